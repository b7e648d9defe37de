//! Argument groups that many subcommands share. [`ProjectArgs`] is `--project` with the
//! data-directory flags, for every command that works on one existing project, and it
//! does what each such command does first: open the store and find the project.

use crate::anyhow_lite::Result;
use crate::Common;
use clap::Args;
use std::sync::Arc;
use touchpoint_engine::Config;
use touchpoint_store::{MetaStore, Project, Store};

/// `--project P` with `--config` and `--data-dir`. Flatten it where `--project` is to be
/// listed in the command's help (first among its options, before the other required
/// ones, as every command had it); `--config` and `--data-dir` follow it there.
#[derive(Args, Clone)]
pub struct ProjectArgs {
    /// Project name or id.
    #[arg(long)]
    pub project: String,
    /// The config file and the data directory.
    #[command(flatten)]
    pub common: Common,
}

impl ProjectArgs {
    /// The configuration (defaults < file < `TOUCHPOINT_*` environment < flags).
    pub fn config(&self) -> Result<Config> {
        self.common.config()
    }

    /// Open the data directory's store beside a running server (shared, not the writer)
    /// and find the project in it. A data directory that holds no store is refused and
    /// named; a project that is not there is named along with the projects that are.
    pub async fn open(&self) -> Result<(Arc<dyn Store>, Project)> {
        let store = crate::admin::open_shared(&self.common).await?;
        let project = self.find(&*store).await?;
        Ok((store, project))
    }

    /// Find the project, by name or id, in a store that is already open (the writer's,
    /// for commands that change events).
    pub async fn find(&self, store: &dyn MetaStore) -> Result<Project> {
        crate::admin::find_project(store, &self.project).await
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The commands under `cmd` that take `--project`, with their paths.
    fn project_commands(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            if sub.get_arguments().any(|a| a.get_id() == "project") {
                out.push((path.clone(), sub.clone()));
            }
            project_commands(sub, &path, out);
        }
    }

    /// Every command's `--project` is the same required option (a role on every project,
    /// `touchpoint user`, leaves it out on purpose), listed first among the command's options, and the flattened groups clash nowhere (clap's own checks).
    #[test]
    fn every_project_option_is_the_same_and_first() {
        let cli = crate::Cli::command();
        cli.clone().debug_assert();
        let mut found = vec![];
        project_commands(&cli, "touchpoint", &mut found);
        assert!(found.len() >= 20, "only {} commands take --project", found.len());
        for (path, cmd) in found {
            let project = cmd.get_arguments().find(|a| a.get_id() == "project").unwrap();
            let help = project.get_help().map(|h| h.to_string()).unwrap_or_default();
            // A person's role may hold on every project: there, and only there, the
            // project is optional, and its help says what leaving it out means.
            if path.starts_with("touchpoint user ") {
                assert!(!project.is_required_set() && help.starts_with("Project name or id; without it"), "{path}");
                continue;
            }
            assert!(project.is_required_set(), "{path}: --project is optional");
            assert_eq!(help, "Project name or id", "{path}");
            let first = cmd.get_arguments().find(|a| !a.is_positional()).unwrap();
            assert_eq!(first.get_id(), "project", "{path}: --project is not the first option");
        }
    }
}
