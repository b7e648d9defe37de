//! Making text safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`, `@`,
//! a tab or a carriage return is read as a formula by Excel, LibreOffice and Google Sheets
//! (CSV injection), so such a cell gets a leading apostrophe.

/// Returns the cell as it should be written to a CSV meant for spreadsheets.
pub fn safe_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_cell;

    #[test]
    fn formulas_are_defused_and_plain_text_is_kept() {
        for (input, want) in [
            ("=1+1", "'=1+1"),
            ("+420 777", "'+420 777"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Objednávka", "Objednávka"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(safe_cell(input), want, "input {input:?}");
        }
    }
}
