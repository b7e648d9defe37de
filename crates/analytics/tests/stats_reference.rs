//! `stats` against reference values computed with 40-digit arithmetic (mpmath) or by hand,
//! through one data-driven [`check`] helper: every row is checked and all failures are
//! reported together.

// Reference values are written with all the digits they were computed to.
#![allow(clippy::excessive_precision)]

use touchpoint_analytics::stats::*;

/// One expected value: a name, what the code computed, the reference, and the allowed
/// relative error (absolute when the reference is 0).
struct Case {
    name: String,
    got: f64,
    want: f64,
    tol: f64,
}

fn case(name: impl Into<String>, got: f64, want: f64, tol: f64) -> Case {
    Case { name: name.into(), got, want, tol }
}

/// Check every case; panic with a table of the ones that failed.
fn check(cases: &[Case]) {
    let mut failed = vec![];
    for c in cases {
        let ok = if c.want.is_infinite() || c.want.is_nan() {
            c.got == c.want || (c.want.is_nan() && c.got.is_nan())
        } else {
            let err = (c.got - c.want).abs();
            err <= c.tol * c.want.abs().max(if c.want == 0.0 { 1.0 } else { f64::MIN_POSITIVE })
        };
        if !ok {
            let rel = ((c.got - c.want) / c.want).abs();
            failed.push(format!(
                "{:40} got {:e} want {:e} (rel err {:.1e}, tol {:.0e})",
                c.name, c.got, c.want, rel, c.tol
            ));
        }
    }
    assert!(failed.is_empty(), "{} of {} cases failed:\n{}", failed.len(), cases.len(), failed.join("\n"));
}

#[test]
fn normal_cdf_matches_reference_values() {
    let rows: &[(f64, f64)] = &[
        (1.96, 0.975_002_104_851_779_565_86),
        (-1.96, 0.024_997_895_148_220_434_137),
        (0.0, 0.5),
        (0.5, 0.691_462_461_274_013_103_64),
        (-0.5, 0.308_537_538_725_986_896_36),
        (1.0, 0.841_344_746_068_542_948_59),
        (-1.0, 0.158_655_253_931_457_051_41),
        (2.5, 0.993_790_334_674_223_864_83),
        (3.0, 0.998_650_101_968_369_905_47),
        (-3.0, 0.001_349_898_031_630_094_526_7),
        (-5.0, 2.866_515_718_791_939_116_7e-7),
        (-8.0, 6.220_960_574_271_784_123_5e-16),
        (-10.0, 7.619_853_024_160_526_066e-24),
        (-20.0, 2.753_624_118_606_233_695_1e-89),
        (-37.0, 5.725_571_222_524_576_822_7e-300),
        (5.0, 0.999_999_713_348_428_120_81),
        (8.3, 0.999_999_999_999_999_947_94),
    ];
    // Deep in the tail Φ is ill-conditioned: a relative error ε in the argument (x / √2 is
    // rounded) becomes x²·ε in the value, so the tolerance grows with x².
    let mut cases: Vec<Case> =
        rows.iter().map(|&(x, p)| case(format!("Φ({x})"), normal_cdf(x), p, 1e-14 * (x * x).max(1.0))).collect();
    // The brief's headline value, to every printed digit.
    cases.push(case("Φ(1.96) brief", normal_cdf(1.96), 0.9750021048517795, 2e-16));
    cases.push(case("1 − Φ(5) upper tail", normal_sf(5.0), 2.866_515_718_791_939_116_7e-7, 1e-14));
    cases.push(case("φ(0)", normal_pdf(0.0), 0.398_942_280_401_432_677_94, 1e-15));
    check(&cases);
}

#[test]
fn erfc_and_erf_match_reference_values() {
    let rows: &[(f64, f64)] = &[
        (0.1, 0.887_537_083_981_715_107_8),
        (0.3, 0.671_373_240_540_872_572_36),
        (0.46875, 0.507_386_526_782_062_008_41),
        (0.5, 0.479_500_122_186_953_462_32),
        (1.0, 0.157_299_207_050_285_130_66),
        (2.0, 0.004_677_734_981_047_265_837_9),
        (3.9, 3.479_224_859_723_174_227_8e-8),
        (4.0, 1.541_725_790_028_001_885_2e-8),
        (4.5, 1.966_160_441_542_887_476_3e-10),
        (6.0, 2.151_973_671_249_891_311_7e-17),
        (10.0, 2.088_487_583_762_544_757e-45),
        (-0.5, 1.520_499_877_813_046_537_7),
        (-2.0, 1.995_322_265_018_952_734_2),
    ];
    let mut cases: Vec<Case> = rows.iter().map(|&(x, v)| case(format!("erfc({x})"), erfc(x), v, 1e-14)).collect();
    cases.push(case("erf(0.5)", erf(0.5), 0.520_499_877_813_046_537_7, 1e-15));
    cases.push(case("erf(1e-10)", erf(1e-10), 1.128_379_167_095_512_573_9e-10, 1e-15));
    cases.push(case("erf(-2)", erf(-2.0), -0.995_322_265_018_952_734_2, 1e-15));
    cases.push(case("erfc(30)", erfc(30.0), 0.0, 0.0));
    check(&cases);
}

#[test]
fn normal_quantile_matches_reference_values() {
    let rows: &[(f64, f64)] = &[
        (0.975, 1.959_963_984_540_054_235_5),
        (0.025, -1.959_963_984_540_054_235_5),
        (0.9, 1.281_551_565_544_600_467),
        (0.999, 3.090_232_306_167_813_541_5),
        (0.001, -3.090_232_306_167_813_541_5),
        (1e-10, -6.361_340_902_404_056_204_7),
        (1e-20, -9.262_340_089_798_407_573_7),
        (1e-300, -37.047_096_299_361_199_237),
        // At the f64 nearest 0.9999999, whose distance to 1 is 1.0000000050247e-7.
        (0.999_999_9, 5.199_337_582_290_661_093_657),
        (0.3, -0.524_400_512_708_040_784_04),
        (0.6, 0.253_347_103_135_799_798_8),
    ];
    let mut cases: Vec<Case> =
        rows.iter().map(|&(p, x)| case(format!("Φ⁻¹({p})"), normal_quantile(p), x, 1e-14)).collect();
    cases.push(case("Φ⁻¹(0.5)", normal_quantile(0.5), 0.0, 0.0));
    cases.push(case("Φ⁻¹(0)", normal_quantile(0.0), f64::NEG_INFINITY, 0.0));
    cases.push(case("Φ⁻¹(1)", normal_quantile(1.0), f64::INFINITY, 0.0));
    cases.push(case("Φ⁻¹(1.5)", normal_quantile(1.5), f64::NAN, 0.0));
    check(&cases);
}

#[test]
fn gamma_and_incomplete_beta_match_reference_values() {
    let mut cases: Vec<Case> = [
        (0.1, 2.252_712_651_734_205_959_87),
        (0.5, 0.572_364_942_924_700_087_071_7),
        (1.0, 0.0),
        (1.5, -0.120_782_237_635_245_222_345_5),
        (2.5, 0.284_682_870_472_919_159_632_5),
        (7.3, 7.147_892_523_022_249_032_777),
        (10.0, 12.801_827_480_081_469_611_21),
        (12.5, 18.734_347_511_936_445_701_63),
        (100.0, 359.134_205_369_575_398_776),
        (1e6, 12_815_504.569_147_611_659_98),
    ]
    .iter()
    .map(|&(x, v)| case(format!("lnΓ({x})"), ln_gamma(x), v, 1e-14))
    .collect();
    for &(a, b, x, v) in &[
        (2.0, 3.0, 0.4, 0.5248),
        (0.5, 0.5, 0.3, 0.369_010_119_565_545_382_755_4),
        (5.0, 0.5, 0.9, 0.316_642_915_020_012_255_813_6),
        (100.0, 0.5, 0.99, 0.156_775_865_424_440_968_412_3),
        // Reference at the f64 nearest 0.999999 (1 − x is 1.0000000000287557e-6 there).
        (500_000.0, 0.5, 0.999_999, 0.317_310_507_855_895_577_632),
        (10.0, 10.0, 0.5, 0.5),
        (1.0, 1.0, 0.25, 0.25),
        (30.0, 2.0, 0.95, 0.536_596_909_857_343_917_352_9),
    ] {
        cases.push(case(format!("I_{x}({a}, {b})"), beta_inc(a, b, x), v, 1e-12));
    }
    check(&cases);
}

#[test]
fn student_t_matches_reference_values() {
    let mut cases = vec![];
    for &(t, df, p) in &[
        (2.228_138_851_986_274_748_4, 10.0, 0.975),
        (1.0, 1.0, 0.75),
        (-2.0, 3.0, 0.069_662_984_279_421_588_424),
        (0.5, 5.0, 0.680_850_564_179_535_496_65),
        (3.0, 30.0, 0.997_305_017_967_174_026_69),
        (1.96, 1000.0, 0.974_863_407_522_125_642_86),
        (-4.0, 2.0, 0.028_595_479_208_968_317_066),
        (10.0, 7.0, 0.999_989_302_898_554_613_59),
        (0.1, 100.0, 0.539_727_734_452_074_381_72),
        (2.0, 1e6, 0.977_249_733_074_340_395_79),
        (-50.0, 1.5, 0.001_066_215_455_144_433_398),
        (1.0, 0.5, 0.698_878_389_158_677_918_45),
    ] {
        cases.push(case(format!("T_{df}({t})"), t_cdf(t, df), p, 1e-12));
    }
    for &(p, df, t) in &[
        (0.975, 10.0, 2.228_138_851_986_274_748_4),
        (0.975, 1.0, 12.706_204_736_174_704_646),
        (0.975, 2.0, 4.302_652_729_749_463_852_3),
        (0.975, 30.0, 2.042_272_456_301_238_31),
        (0.995, 4.0, 4.604_094_871_349_993_225_4),
        (0.9, 3.0, 1.637_744_353_696_210_105_5),
        (0.6, 15.0, 0.257_885_300_937_261_130_43),
        (0.025, 10.0, -2.228_138_851_986_274_748_4),
        (0.999, 100.0, 3.173_739_493_738_782_938_9),
        (0.975, 1000.0, 1.962_339_080_826_408_485),
        (0.9999, 5.0, 9.677_566_300_882_591_300_6),
        (0.75, 1.5, 0.872_594_662_541_570_636_04),
    ] {
        cases.push(case(format!("T⁻¹_{df}({p})"), t_quantile(p, df), t, 1e-12));
    }
    // The brief quotes 2.2281388519649385 (SciPy's value), which is 2.1e-11 below the true
    // quantile: its CDF is 0.974999999999096. Within 1e-11 relative, it agrees.
    cases.push(case("T⁻¹_10(0.975) brief", t_quantile(0.975, 10.0), 2.228_138_851_964_938_5, 1e-11));
    cases.push(case("T⁻¹_4(0.5)", t_quantile(0.5, 4.0), 0.0, 0.0));
    cases.push(case("T⁻¹_4(1)", t_quantile(1.0, 4.0), f64::INFINITY, 0.0));
    cases.push(case("T_0(1)", t_cdf(1.0, 0.0), f64::NAN, 0.0));
    check(&cases);
}

#[test]
fn tests_and_intervals_match_hand_computed_values() {
    let mut cases = vec![];
    for &((x1, n1, x2, n2), z, p) in &[
        ((45, 100, 30, 100), 2.190_890_230_020_664_453_8, 0.028_459_736_916_310_577_034),
        ((10, 50, 20, 60), -1.563_471_919_941_143_184_9, 0.117_941_635_387_615_386_24),
        ((1, 1000, 0, 1000), 1.000_250_093_789_079_597_5, 0.317_189_492_246_750_805_68),
        ((300, 1000, 250, 900), 1.066_442_176_152_412_332_2, 0.286_223_804_657_133_188_25),
    ] {
        let t = two_proportion_z(x1, n1, x2, n2);
        cases.push(case(format!("z {x1}/{n1} vs {x2}/{n2}"), t.z, z, 1e-13));
        cases.push(case(format!("p {x1}/{n1} vs {x2}/{n2}"), t.p, p, 1e-13));
    }
    for (args, z, p) in [((0, 0, 3, 10), 0.0, 1.0), ((0, 10, 0, 20), 0.0, 1.0), ((5, 5, 7, 7), 0.0, 1.0)] {
        let t = two_proportion_z(args.0, args.1, args.2, args.3);
        cases.push(case(format!("degenerate z {args:?}"), t.z, z, 0.0));
        cases.push(case(format!("degenerate p {args:?}"), t.p, p, 0.0));
    }
    for &(x, n, level, lo, hi) in &[
        (81, 263, 0.95, 0.255_288_519_878_274_225_77, 0.366_209_576_982_800_070_15),
        (81, 263, 0.9, 0.263_313_617_188_481_381_61, 0.356_566_349_608_488_164_72),
        (0, 10, 0.95, 0.0, 0.277_532_799_862_889_252_72),
        (10, 10, 0.95, 0.722_467_200_137_110_747_28, 1.0),
        (1, 2, 0.95, 0.094_531_205_734_230_713_111, 0.905_468_794_265_769_286_89),
        (5, 100, 0.95, 0.021_543_679_154_367_970_739, 0.111_750_469_231_919_145_46),
        (0, 0, 0.95, 0.0, 1.0),
    ] {
        let w = wilson(x, n, level);
        cases.push(case(format!("wilson {x}/{n} {level} low"), w.low, lo, 1e-13));
        cases.push(case(format!("wilson {x}/{n} {level} high"), w.high, hi, 1e-13));
    }
    for (values, level, mean, sd, se, lo, hi) in [
        (
            &[1.0, 2.0, 3.0, 4.0, 5.0][..],
            0.95,
            3.0,
            1.581_138_830_084_189_666,
            std::f64::consts::FRAC_1_SQRT_2,
            1.036_756_838_522_442_302_3,
            4.963_243_161_477_557_697_7,
        ),
        (
            &[2.5, 3.1, 4.7, 1.2, 3.3, 2.8, 4.0, 3.9][..],
            0.99,
            3.1875,
            1.072_297_266_886_113_380_4,
            0.379_114_334_431_485_963_28,
            1.860_795_718_870_865_611_4,
            4.514_204_281_129_134_388_6,
        ),
        (
            &[7.0, 9.0][..],
            0.95,
            8.0,
            std::f64::consts::SQRT_2,
            1.0,
            -4.706_204_736_174_704_646,
            20.706_204_736_174_704_646,
        ),
    ] {
        let m = mean_t_interval(values, level).expect("two or more values");
        cases.push(case(format!("mean {values:?}"), m.mean, mean, 1e-15));
        cases.push(case(format!("sd {values:?}"), m.sd, sd, 1e-14));
        cases.push(case(format!("se {values:?}"), m.se, se, 1e-14));
        cases.push(case(format!("t interval low {values:?}"), m.interval.low, lo, 1e-12));
        cases.push(case(format!("t interval high {values:?}"), m.interval.high, hi, 1e-12));
        cases.push(case(format!("n {values:?}"), m.n as f64, values.len() as f64, 0.0));
    }
    assert!(mean_t_interval(&[3.0], 0.95).is_none() && mean_t_interval(&[], 0.95).is_none());
    check(&cases);
}

#[test]
fn benjamini_hochberg_matches_known_vectors() {
    // Benjamini & Hochberg (1995), section 4: 15 p-values; at FDR 0.05 the first four are
    // rejected. The q-values are p_(i)·m/i made monotone from the top.
    let p = [
        0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590,
        1.000,
    ];
    let want = [
        0.0015,
        0.003,
        0.0095,
        0.035625,
        0.0603,
        0.063_857_142_857_142_86,
        0.063_857_142_857_142_86,
        0.0645,
        0.0765,
        0.486,
        0.581_181_818_181_818_2,
        0.714875,
        0.753_230_769_230_769_4,
        0.813_214_285_714_285_7,
        1.0,
    ];
    let q = benjamini_hochberg(&p);
    let mut cases: Vec<Case> = (0..p.len()).map(|i| case(format!("BH 1995 q[{i}]"), q[i], want[i], 1e-14)).collect();
    assert_eq!(q.iter().filter(|&&q| q <= 0.05).count(), 4);
    // Unsorted input keeps its order; ties share a q-value.
    let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005, 0.5]);
    for (i, w) in [0.025, 0.05, 0.05, 0.025, 0.5].into_iter().enumerate() {
        cases.push(case(format!("BH unsorted q[{i}]"), q[i], w, 1e-14));
    }
    // R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "BH") is 0.05 five times.
    for (i, v) in benjamini_hochberg(&[0.01, 0.02, 0.03, 0.04, 0.05]).into_iter().enumerate() {
        cases.push(case(format!("BH R q[{i}]"), v, 0.05, 1e-14));
    }
    let q = benjamini_hochberg(&[f64::NAN, 0.01]);
    cases.push(case("BH NaN counts as 1", q[0], 1.0, 0.0));
    cases.push(case("BH with a NaN", q[1], 0.02, 1e-15));
    assert!(benjamini_hochberg(&[]).is_empty());
    check(&cases);
}

#[test]
fn percentiles_interpolate_linearly_between_ranks() {
    let x = [1.0, 2.0, 3.0, 4.0];
    let odd = [10u32, 20, 40];
    let mut cases = vec![
        case("median 1..4", median_sorted(&x).unwrap(), 2.5, 0.0),
        case("p25 1..4", percentile_sorted(&x, 0.25).unwrap(), 1.75, 1e-15),
        case("p90 1..4", percentile_sorted(&x, 0.9).unwrap(), 3.7, 1e-15),
        case("p0 1..4", percentile_sorted(&x, 0.0).unwrap(), 1.0, 0.0),
        case("p100 1..4", percentile_sorted(&x, 1.0).unwrap(), 4.0, 0.0),
        case("median u32 odd", median_sorted(&odd).unwrap(), 20.0, 0.0),
        case("p75 u32 odd", percentile_sorted(&odd, 0.75).unwrap(), 30.0, 0.0),
        case("one value", percentile_sorted(&[7.0], 0.3).unwrap(), 7.0, 0.0),
    ];
    let mut shuffled = [4.0, 1.0, 3.0, 2.0];
    cases.push(case("in place median", percentile_in_place(&mut shuffled, 0.5).unwrap(), 2.5, 0.0));
    let mut shuffled = [40u32, 10, 20];
    cases.push(case("in place p75", percentile_in_place(&mut shuffled, 0.75).unwrap(), 30.0, 0.0));
    check(&cases);
    assert_eq!(median_sorted::<f64>(&[]), None);
    assert_eq!(percentile_sorted(&x, 1.5), None);
    assert_eq!(percentile_in_place::<u32>(&mut [], 0.5), None);
}
