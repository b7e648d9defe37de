//! Benchmarking: a small study computed by hand (brand and category indices, the area
//! heatmap, NPS, rankings, intervals, the test against the rest of the category), missing
//! areas, weights, external benchmarks and their CSV.

use touchpoint_listen::benchmark::{
    analyze, compare_external, compare_report, parse_external_csv, BenchError, BenchRow, BenchmarkReport,
    ExternalBenchmark, Verdict,
};

fn row(category: &str, brand: &str, quality: Option<f64>, prices: Option<f64>, recommend: Option<f64>) -> BenchRow {
    let mut areas = Vec::new();
    if let Some(q) = quality {
        areas.push(("quality".to_string(), q));
    }
    if let Some(p) = prices {
        areas.push(("prices".to_string(), p));
    }
    BenchRow { category: category.into(), brand: brand.into(), areas, recommend, weight: 1.0 }
}

/// Two categories, three brands, two areas:
///
/// | row | category | brand | quality | prices | recommend | respondent index |
/// |-----|----------|-------|---------|--------|-----------|------------------|
/// | 1   | pharm    | A     | 9       | 7      | 10        | 8                |
/// | 2   | pharm    | A     | 8       | 6      | 9         | 7                |
/// | 3   | pharm    | A     | 10      | –      | 7         | 10               |
/// | 4   | pharm    | B     | 6       | 5      | 3         | 5.5              |
/// | 5   | pharm    | B     | 7       | 7      | 8         | 7                |
/// | 6   | grocery  | C     | 5       | 4      | 6         | 4.5              |
/// | 7   | grocery  | C     | 7       | 6      | 10        | 6.5              |
/// | 8   | grocery  | C     | –       | 8      | –         | 8                |
///
/// A: quality 27/3 = 9, prices 13/2 = 6.5, index 7.75; NPS 2 promoters of 3 = 66.67.
/// B: quality 6.5, prices 6, index 6.25; NPS (0 − 1)/2 = −50.
/// C: quality 6, prices 18/3 = 6, index 6; NPS (1 − 1)/2 = 0 (2 answers).
/// pharm: quality 40/5 = 8, prices 25/4 = 6.25, index 7.125; NPS (2 − 1)/5 = 20.
/// grocery = C. Overall: quality 52/7, prices 43/7, index 95/14 = 6.7857; NPS (3 − 2)/7.
fn study() -> Vec<BenchRow> {
    vec![
        row("pharm", "A", Some(9.0), Some(7.0), Some(10.0)),
        row("pharm", "A", Some(8.0), Some(6.0), Some(9.0)),
        row("pharm", "A", Some(10.0), None, Some(7.0)),
        row("pharm", "B", Some(6.0), Some(5.0), Some(3.0)),
        row("pharm", "B", Some(7.0), Some(7.0), Some(8.0)),
        row("grocery", "C", Some(5.0), Some(4.0), Some(6.0)),
        row("grocery", "C", Some(7.0), Some(6.0), Some(10.0)),
        row("grocery", "C", None, Some(8.0), None),
    ]
}

/// What one group should show: name, index, [quality, prices] means, NPS.
type Expect<'a> = (&'a str, f64, [f64; 2], Option<f64>);

fn close(x: f64, y: f64) -> bool {
    (x - y).abs() < 1e-9
}

/// Analyse `rows` and compare brands (in rank order), categories (in rank order) and the
/// overall figures with the expectations.
fn check(rows: &[BenchRow], brands: &[Expect], categories: &[Expect], overall: (f64, f64)) -> BenchmarkReport {
    let r = analyze(rows).unwrap();
    assert_eq!(r.areas, ["quality", "prices"]);
    let groups = r
        .brands
        .iter()
        .map(|b| (b.brand.as_str(), &b.scores))
        .zip(brands)
        .chain(r.categories.iter().map(|c| (c.category.as_str(), &c.scores)).zip(categories));
    assert_eq!(r.brands.len(), brands.len());
    assert_eq!(r.categories.len(), categories.len());
    for ((name, s), &(want, index, areas, nps)) in groups {
        assert_eq!(name, want, "rank order");
        let got = s.index.unwrap().value;
        assert!(close(got, index), "{name}: index {got} ≠ {index}");
        for (a, &m) in areas.iter().enumerate() {
            let got = s.areas[a].unwrap().value;
            assert!(close(got, m), "{name}: area {a} mean {got} ≠ {m}");
        }
        match (s.nps, nps) {
            (Some(n), Some(want)) => assert!(close(n.nps, want), "{name}: NPS {} ≠ {want}", n.nps),
            (None, None) => {}
            (got, want) => panic!("{name}: NPS {got:?}, expected {want:?}"),
        }
    }
    assert!(close(r.overall.index.unwrap().value, overall.0));
    assert!(close(r.overall.nps.unwrap().nps, overall.1));
    r
}

#[test]
fn hand_computed_study() {
    let r = check(
        &study(),
        &[
            ("A", 7.75, [9.0, 6.5], Some(200.0 / 3.0)),
            ("B", 6.25, [6.5, 6.0], Some(-50.0)),
            ("C", 6.0, [6.0, 6.0], Some(0.0)),
        ],
        &[("pharm", 7.125, [8.0, 6.25], Some(20.0)), ("grocery", 6.0, [6.0, 6.0], Some(0.0))],
        (95.0 / 14.0, 100.0 / 7.0),
    );
    let ranks: Vec<_> = r.brands.iter().map(|b| (b.brand.as_str(), b.rank, b.rank_in_category)).collect();
    assert_eq!(ranks, [("A", Some(1), Some(1)), ("B", Some(2), Some(2)), ("C", Some(3), Some(1))]);
    assert_eq!(r.categories.iter().map(|c| (c.rank, c.brands)).collect::<Vec<_>>(), [(Some(1), 2), (Some(2), 1)]);
    assert_eq!(r.overall.rows, 8);

    // A's interval: respondent indices 8, 7, 10 have sd² = 7/3, SE = sqrt(7/9) = 0.881917…;
    // t(0.975, 2) = 4.302652730 (exact: sqrt(2) · 0.975-… from the closed form for df 2).
    let a = r.brands[0].scores.index.unwrap();
    assert_eq!((a.n, a.n_eff), (3, 3.0));
    assert!(close(a.se.unwrap(), (7.0f64 / 9.0).sqrt()));
    let half = 4.302_652_729_911_275 * (7.0f64 / 9.0).sqrt();
    let iv = a.interval.unwrap();
    assert!((iv.low - (7.75 - half)).abs() < 1e-6 && (iv.high - (7.75 + half)).abs() < 1e-6, "{iv:?}");
    // A's NPS: p_P = 2/3, p_D = 0, SE = 100 · sqrt((2/3 · 1/3) / 3) = 27.2166…, clipped at 100.
    let nps = r.brands[0].scores.nps.unwrap();
    assert!(close(nps.se, 100.0 * (2.0f64 / 27.0).sqrt()));
    assert!(close(nps.promoters, 200.0 / 3.0) && close(nps.passives, 100.0 / 3.0) && close(nps.detractors, 0.0));
    assert_eq!(nps.interval.high, 100.0);
    assert!(close(nps.interval.low, 200.0 / 3.0 - 1.959_963_984_540_054 * nps.se));

    // A against B (the rest of pharm): Welch on 8, 7, 10 vs 5.5, 7: t = 2.08333 / sqrt(7/9 +
    // 0.5625) = 1.799539…, df = 1.340278² / ((7/9)²/2 + 0.5625²/1) = 2.902595…, p = 0.17283
    // (numerical integration of the t density). Two tests, equal p: q = p, not significant.
    let vs = r.brands[0].vs_category.unwrap();
    assert!((vs.t - 1.799_539_376_871_736_7).abs() < 1e-9);
    assert!((vs.df - 2.902_594_872_594_093).abs() < 1e-9);
    assert!((vs.p - 0.172_834).abs() < 1e-4, "p = {}", vs.p);
    assert!(close(vs.diff, 25.0 / 3.0 - 6.25));
    assert_eq!((vs.q, vs.verdict), (vs.p, Verdict::Same));
    let vb = r.brands[1].vs_category.unwrap();
    assert!(close(vb.t, -vs.t) && close(vb.p, vs.p));
    // C is alone in its category: nothing to compare with.
    assert!(r.brands[2].vs_category.is_none());
}

#[test]
fn missing_areas_count_only_where_rated() {
    // One brand, quality always rated, prices once: the index is the mean of the two area
    // means (not of all ratings), and a group that never rated prices has only quality.
    let rows = vec![
        row("c", "X", Some(10.0), None, None),
        row("c", "X", Some(8.0), None, None),
        row("c", "X", Some(6.0), Some(2.0), None),
        row("d", "Y", Some(7.0), None, None),
        row("d", "Y", Some(9.0), None, None),
        row("d", "Z", None, None, Some(10.0)),
    ];
    let r = analyze(&rows).unwrap();
    let x = r.brands.iter().find(|b| b.brand == "X").unwrap();
    assert!(close(x.scores.index.unwrap().value, (8.0 + 2.0) / 2.0));
    assert!(close(x.scores.areas[1].unwrap().value, 2.0));
    assert_eq!(x.scores.areas[1].unwrap().n, 1);
    assert!(x.scores.areas[1].unwrap().interval.is_none(), "one rating: no interval");
    assert!(x.scores.nps.is_none());
    let y = r.brands.iter().find(|b| b.brand == "Y").unwrap();
    assert_eq!(y.scores.areas[1], None);
    assert!(close(y.scores.index.unwrap().value, 8.0));
    // Z rated no area: no index, unranked and last, but its NPS counts.
    let z = r.brands.last().unwrap();
    assert_eq!((z.brand.as_str(), z.rank, z.rank_in_category), ("Z", None, None));
    assert!(z.scores.index.is_none());
    assert!(close(z.scores.nps.unwrap().nps, 100.0));
    assert_eq!(r.brands.iter().map(|b| b.rank).collect::<Vec<_>>(), [Some(1), Some(2), None]);
}

#[test]
fn weights() {
    // A row of weight 2 counts like the same row twice in every mean and share.
    let mut weighted = study();
    weighted[3].weight = 2.0;
    let mut doubled = study();
    doubled.insert(4, doubled[3].clone());
    let (w, d) = (analyze(&weighted).unwrap(), analyze(&doubled).unwrap());
    for (bw, bd) in w.brands.iter().zip(&d.brands) {
        assert_eq!(bw.brand, bd.brand);
        assert!(close(bw.scores.index.unwrap().value, bd.scores.index.unwrap().value));
        for (aw, ad) in bw.scores.areas.iter().zip(&bd.scores.areas) {
            assert!(close(aw.unwrap().value, ad.unwrap().value));
        }
        assert!(close(bw.scores.nps.unwrap().nps, bd.scores.nps.unwrap().nps));
    }
    // B: rows 5.5 (weight 2) and 7: index quality (12 + 7)/3, prices (10 + 7)/3; n_eff = 9/5.
    let b = w.brands.iter().find(|b| b.brand == "B").unwrap();
    let idx = b.scores.index.unwrap();
    assert!(close(idx.value, (19.0 / 3.0 + 17.0 / 3.0) / 2.0));
    assert_eq!(idx.n, 2);
    assert!(close(idx.n_eff, 1.8));
    assert!(close(b.scores.nps.unwrap().nps, 100.0 * (0.0 - 2.0 / 3.0)));

    // Scaling every weight changes nothing; weight 0 leaves a row out.
    let scaled: Vec<BenchRow> = study().into_iter().map(|r| BenchRow { weight: 3.5, ..r }).collect();
    assert_eq!(analyze(&scaled).unwrap().brands[0].scores.index.unwrap().n_eff, 3.0);
    let mut with_zero = study();
    with_zero.push(BenchRow { weight: 0.0, ..row("pharm", "A", Some(0.0), Some(0.0), Some(0.0)) });
    assert_eq!(analyze(&with_zero).unwrap(), analyze(&study()).unwrap());
}

#[test]
fn invalid_rows_and_empty_input() {
    let empty = analyze(&[]).unwrap();
    assert!(empty.brands.is_empty() && empty.categories.is_empty() && empty.areas.is_empty());
    assert_eq!((empty.overall.rows, empty.overall.index, empty.overall.nps), (0, None, None));

    let cases: Vec<(BenchRow, &str)> = vec![
        (BenchRow { weight: -1.0, ..row("c", "b", Some(5.0), None, None) }, "weight"),
        (BenchRow { weight: f64::NAN, ..row("c", "b", Some(5.0), None, None) }, "weight"),
        (row("c", "b", Some(11.0), None, None), "\"quality\""),
        (row("c", "b", Some(f64::NAN), None, None), "\"quality\""),
        (row("c", "b", None, None, Some(-1.0)), "recommend"),
        (BenchRow { areas: vec![("q".into(), 1.0), ("q".into(), 2.0)], ..row("c", "b", None, None, None) }, "twice"),
        (BenchRow { areas: vec![(String::new(), 1.0)], ..row("c", "b", None, None, None) }, "empty"),
    ];
    for (bad, needle) in cases {
        let mut rows = study();
        rows.push(bad);
        let e = analyze(&rows).unwrap_err();
        assert!(matches!(e, BenchError::InvalidRow { row: 8, .. }), "{e}");
        assert!(e.to_string().starts_with("row 8: ") && e.to_string().contains(needle), "{e}");
    }

    // One row: figures without intervals, no NaN anywhere.
    let one = analyze(&study()[..1]).unwrap();
    let idx = one.overall.index.unwrap();
    assert_eq!((idx.value, idx.se, idx.interval), (8.0, None, None));
    assert!(one.brands[0].vs_category.is_none());
}

#[test]
fn external_comparisons() {
    let ext = |value: f64, n: Option<f64>, se: Option<f64>| ExternalBenchmark {
        metric: "nps".into(),
        segment: String::new(),
        value,
        n,
        se,
    };
    // Fixed external value: only our SE counts. 40 vs 30 with SE 5: z = 2, p = 0.0455.
    let c = compare_external(40.0, 5.0, 400.0, &ext(30.0, None, None)).unwrap();
    assert!(close(c.diff, 10.0) && close(c.se, 5.0) && close(c.z, 2.0) && close(c.external_se, 0.0));
    assert!((c.p - 0.045_500_263_896_358_4).abs() < 1e-12 && c.significant);
    // Its own SE: sqrt(25 + 25) = 7.07, z = 1.41, not significant.
    let c = compare_external(40.0, 5.0, 400.0, &ext(30.0, None, Some(5.0))).unwrap();
    assert!(close(c.se, 50f64.sqrt()) && !c.significant);
    // Only n: our spread at its size, 5 · sqrt(400 / 100) = 10.
    let c = compare_external(40.0, 5.0, 400.0, &ext(30.0, Some(100.0), None)).unwrap();
    assert!(close(c.external_se, 10.0) && close(c.se, 125f64.sqrt()));
    // Errors, never NaN.
    for (own, se, n, e) in [
        (f64::NAN, 1.0, 1.0, ext(1.0, None, None)),
        (1.0, -1.0, 1.0, ext(1.0, None, None)),
        (1.0, 1.0, 0.0, ext(1.0, None, None)),
        (1.0, 1.0, 1.0, ext(f64::INFINITY, None, None)),
        (1.0, 1.0, 1.0, ext(1.0, Some(-3.0), None)),
        (1.0, 0.0, 1.0, ext(1.0, None, None)),
    ] {
        assert!(matches!(compare_external(own, se, n, &e), Err(BenchError::Compare(_))));
    }

    // Against a report: lookup by metric and segment.
    let r = analyze(&study()).unwrap();
    let benchmarks = parse_external_csv(
        "metric,segment,value,n,se\nnps,,10,,\nindex,Pharm,7,,0.1\nmean:quality,A,8,50,\nnps,nobody,1,,\ncsat,,80,,\n",
    )
    .unwrap();
    let results = compare_report(&r, &benchmarks);
    assert!(close(results[0].own.unwrap().value, 100.0 / 7.0));
    assert!(close(results[0].comparison.unwrap().diff, 100.0 / 7.0 - 10.0));
    assert!(close(results[1].own.unwrap().value, 7.125));
    assert!(close(results[1].comparison.unwrap().external_se, 0.1));
    assert!(close(results[2].own.unwrap().value, 9.0));
    assert!(results[2].comparison.is_some());
    assert!(results[3].own.is_none() && results[3].comparison.is_none());
    assert!(results[4].own.is_none(), "no CSAT in a benchmark study");
}

#[test]
fn external_csv() {
    let text = "\u{feff}Metric,Segment,Value,N\r\nnps,all,30,2000\r\n\r\n\"mean:prices\",\"Home, garden\",7.1,\r\n\"index\",\"The \"\"best\"\" shop\",8.2,150\n";
    let got = parse_external_csv(text).unwrap();
    assert_eq!(
        got,
        [
            ExternalBenchmark { metric: "nps".into(), segment: "all".into(), value: 30.0, n: Some(2000.0), se: None },
            ExternalBenchmark {
                metric: "mean:prices".into(),
                segment: "Home, garden".into(),
                value: 7.1,
                n: None,
                se: None
            },
            ExternalBenchmark {
                metric: "index".into(),
                segment: "The \"best\" shop".into(),
                value: 8.2,
                n: Some(150.0),
                se: None
            },
        ]
    );
    // Columns in any order, se, a quoted line break.
    let got = parse_external_csv("value,se,segment,metric\n7.8,0.05,\"two\nlines\",index").unwrap();
    assert_eq!((got[0].value, got[0].se, got[0].segment.as_str()), (7.8, Some(0.05), "two\nlines"));
    // Semicolons and a decimal comma, as a Czech or Polish spreadsheet writes them.
    let got = parse_external_csv("metric;segment;value;n\nindex;Lékárny;8,2;1000").unwrap();
    assert_eq!((got[0].segment.as_str(), got[0].value, got[0].n), ("Lékárny", 8.2, Some(1000.0)));
    assert!(parse_external_csv("metric,segment,value\n").unwrap().is_empty());

    let err = |text: &str| parse_external_csv(text).unwrap_err().to_string();
    assert_eq!(err(""), "line 1: no header line");
    assert_eq!(
        err("metric,segment,value,nn\n"),
        "line 1, column \"nn\": unknown column (expected metric, segment, value, n, se)"
    );
    assert_eq!(err("metric,value\nnps,1"), "line 1, column \"segment\": required column missing from the header");
    assert_eq!(err("metric,segment,value,value\n"), "line 1, column \"value\": column named twice");
    assert_eq!(err("metric,segment,value\nnps,all,abc"), "line 2, column \"value\": not a number: \"abc\"");
    assert_eq!(err("metric,segment,value\nnps,all,NaN"), "line 2, column \"value\": not a number: \"NaN\"");
    assert_eq!(err("metric,segment,value\n\nnps,all,"), "line 3, column \"value\": empty");
    assert_eq!(err("metric,segment,value\n,all,1"), "line 2, column \"metric\": empty");
    assert_eq!(err("metric,segment,value,n\nnps,all,1,0"), "line 2, column \"n\": must be positive, got 0");
    assert_eq!(err("metric,segment,value,se\nnps,all,1,-2"), "line 2, column \"se\": must not be negative, got -2");
    assert_eq!(err("metric,segment,value\nnps,all,7,8"), "line 2: 4 cells, the header has 3");
    assert_eq!(err("metric,segment,value\nnps,\"all,1\n"), "line 2: a quoted cell is not closed");
    assert_eq!(err("metric,segment,value\nnps,\"all\"x,1"), "line 2: text after a closing quote");
    assert_eq!(
        err("metric,segment,value\nnps,a\"l,1"),
        "line 2: a quote inside an unquoted cell (quote the whole cell)"
    );
}
