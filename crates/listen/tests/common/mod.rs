//! The data-driven check shared by the listening tests: every case is checked and all
//! failures are reported together, as a table.

#![allow(dead_code)]

/// One expected value: a name, what the code computed, the reference and the allowed
/// absolute error.
pub struct Case {
    /// What is checked.
    pub name: String,
    /// What the code computed.
    pub got: f64,
    /// The reference.
    pub want: f64,
    /// Allowed absolute error.
    pub tol: f64,
}

/// A case.
pub fn case(name: impl Into<String>, got: f64, want: f64, tol: f64) -> Case {
    Case { name: name.into(), got, want, tol }
}

/// Whether a case is within its tolerance (a NaN never is, an exact match always is).
pub fn passes(c: &Case) -> bool {
    c.got == c.want || (c.got - c.want).abs() <= c.tol
}

/// Check every case; panic with a table of those that failed.
pub fn check(cases: &[Case]) {
    let failed: Vec<String> = cases
        .iter()
        .filter(|c| !passes(c))
        .map(|c| format!("{:45} got {:.15e} want {:.15e} (tol {:.0e})", c.name, c.got, c.want, c.tol))
        .collect();
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n"));
}
