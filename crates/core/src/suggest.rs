//! "Did you mean …?": the known names nearest to a mistyped one, so every error about an
//! unknown touchpoint, survey, project or analysis can name what the person probably meant.
//! Nearness is the edit distance (Levenshtein over characters, case-insensitive) with a
//! bound that grows with the name's length; a known name that contains the typed one, or is
//! contained in it, counts as near too.

/// Up to three known names nearest to `typed`, nearest first (ties in the order given).
pub fn nearest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let t = typed.trim().to_lowercase();
    if t.is_empty() {
        return vec![];
    }
    let limit = (t.chars().count() / 3).clamp(1, 4);
    let mut found: Vec<(usize, usize, &str)> = known
        .into_iter()
        .enumerate()
        .filter_map(|(i, k)| {
            let kl = k.to_lowercase();
            let d = distance(&t, &kl);
            let contains = t.chars().count() >= 3 && (kl.contains(&t) || t.contains(&kl));
            (d <= limit || contains).then_some((d, i, k))
        })
        .collect();
    found.sort();
    found.into_iter().take(3).map(|(_, _, k)| k).collect()
}

/// `… ; did you mean a, b?` for an error message, or nothing when nothing is near.
pub fn hint<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let near = nearest(typed, known);
    if near.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", near.join(", "))
    }
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(row[j + 1] + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check() {
        let known = ["cart", "checkout", "order-completed", "product-page", "help-centre", "nps-after-delivery"];
        let cases: [(&str, &[&str]); 8] = [
            ("carts", &["cart"]),
            ("Cart", &["cart"]),
            ("chekout", &["checkout"]),
            ("order-complete", &["order-completed"]),
            ("product", &["product-page"]),
            ("nps", &["nps-after-delivery"]),
            ("zzzzzz", &[]),
            ("", &[]),
        ];
        for (typed, want) in cases {
            assert_eq!(nearest(typed, known), want, "{typed:?}");
        }
        assert_eq!(hint("carts", known), "; did you mean cart?");
        assert_eq!(hint("zzzzzz", known), "");
    }

    #[test]
    fn distance_is_levenshtein() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("žluť", "zluť"), 1, "characters, not bytes");
    }
}
