//! `touchpoint customer export | erase`: a customer's rights over their data from the
//! command line (GDPR articles 15, 17 and 20), through the engine's `privacy` use cases.
//! The customer is named by exactly one of `--customer`, `--user-id` or `--anonymous-id`.
//!
//! Export reads beside a running server. Erase needs the data directory's writer: with a
//! server running it says to erase through the server (`DELETE /api/customers/{id}`), which
//! erases through its own writer.

use crate::anyhow_lite::{msg, Result};
use crate::args::ProjectArgs;
use clap::{Args, Subcommand};
use std::io::Write;
use touchpoint_engine::privacy;

/// `touchpoint customer …`
#[derive(Subcommand)]
pub enum CustomerCmd {
    /// Everything stored about a customer, as one JSON document (profile, identities,
    /// traits, every event, failed events naming them, survey invitations and responses,
    /// trigger firings and message preferences).
    Export {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Who.
        #[command(flatten)]
        who: WhoArgs,
        /// Write the document to this file instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Erase a customer from every store and the journeys, and refuse their ids from now
    /// on; prints a receipt checked by reading every store again.
    Erase {
        /// The project, and where its data directory is.
        #[command(flatten)]
        project: ProjectArgs,
        /// Who.
        #[command(flatten)]
        who: WhoArgs,
        /// Print the receipt as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// How the command names the customer: one of the three.
#[derive(Args, Clone)]
#[group(required = true, multiple = false)]
pub struct WhoArgs {
    /// Touchpoint's customer id.
    #[arg(long)]
    customer: Option<i64>,
    /// A user id the customer was sent with (`userId`).
    #[arg(long)]
    user_id: Option<String>,
    /// An anonymous id the customer was sent with (`anonymousId`).
    #[arg(long)]
    anonymous_id: Option<String>,
}

impl WhoArgs {
    fn who(&self) -> Result<privacy::Who> {
        Ok(privacy::who(self.customer, self.user_id.clone(), self.anonymous_id.clone())?)
    }
}

pub async fn run(cmd: CustomerCmd) -> Result<()> {
    match cmd {
        CustomerCmd::Export { project, who, out } => {
            // Read beside a server: the shared store, not the writer.
            let (store, p) = project.open().await?;
            let export = privacy::export(&*store, p.id, &who.who()?).await?;
            let text = serde_json::to_string_pretty(&export)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, text + "\n")
                        .map_err(|e| msg(format!("cannot write {}: {e}", path.display())))?;
                    eprintln!(
                        "Exported customer {} ({} events, {} responses) to {}",
                        export.profile.id,
                        export.events.len(),
                        export.responses.len(),
                        path.display()
                    );
                }
                None => writeln!(std::io::stdout(), "{text}")?,
            }
        }
        CustomerCmd::Erase { project, who, json } => {
            let who = who.who()?;
            let node = crate::catalog::writer_for(
                &project,
                "erase the customer through it (DELETE /api/customers/{id} with the secret key)",
            )
            .await?;
            let engine = node.engine().clone();
            let p = project.find(&*engine.store).await?;
            let result = privacy::erase(&engine, p.id, &who).await;
            drop(engine);
            node.close().await?;
            let e = result?;
            if json {
                println!("{}", serde_json::to_string_pretty(&e)?);
            } else {
                let r = &e.stores;
                println!("Erased customer {} of project {}.", r.customer_id, p.name);
                println!(
                    "  removed: {} events, {} identities, {} failed events, {} responses, {} invitations, {} trigger firings, {} preferences",
                    r.removed.events,
                    r.removed.identities,
                    r.removed.failed_events,
                    r.removed.responses,
                    r.removed.invitations,
                    r.removed.firings,
                    r.removed.preferences
                );
                println!("  {} ids suppressed: new events with them are refused.", r.identity_values);
                println!(
                    "  journeys: {} customers before, {} after.",
                    e.journeys.customers_before, e.journeys.customers_after
                );
                match e.verified {
                    true => println!("Verified: reading every store again found nothing of them."),
                    false => println!("NOT verified: reading every store again found data; run the erase again."),
                }
            }
            if !e.verified {
                return Err(msg("the erasure could not be verified"));
            }
        }
    }
    Ok(())
}
