//! Temporary exploration (to be deleted).
use std::collections::HashMap;
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_core::catalog::Classifier;
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::Event;
use touchpoint_gen::{brand_catalog, GenConfig, Generator};

fn load(events: usize, seed: u64) -> (JourneySet, Dictionary, i64) {
    let cfg = GenConfig::for_events(events, seed);
    let gen = Generator::new(cfg);
    let cat = brand_catalog();
    let classifier = Classifier::new(cat.rules.clone());
    let dict =
        Dictionary { touchpoints: cat.touchpoints.clone(), stages: cat.stages.iter().map(|s| s.key.clone()).collect() };
    let cx = ParseContext { received_at: cfg.end_ms + 86_400_000, ..Default::default() };
    let mut evs = vec![];
    for i in 0..cfg.customers {
        for v in gen.customer(i) {
            evs.push(Event::parse(v, &cx, &Limits::default()).unwrap());
        }
    }
    let mut link: HashMap<String, String> = HashMap::new();
    for e in &evs {
        if let (Some(u), Some(a)) = (&e.user_id, &e.anonymous_id) {
            link.entry(a.clone()).or_insert_with(|| u.clone());
        }
    }
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut rows = vec![];
    for e in &evs {
        let Some(c) = classifier.classify(e) else { continue };
        let person = e
            .user_id
            .clone()
            .or_else(|| e.anonymous_id.as_ref().map(|a| link.get(a).cloned().unwrap_or(a.clone())))
            .unwrap();
        let n = ids.len() as i64;
        let id = *ids.entry(person).or_insert(n);
        let tp = dict.find(&c.key).unwrap();
        rows.push((id, e.timestamp.div_euclid(1000), tp));
    }
    let epoch = cfg.start_ms() / 1000 - 86400;
    (JourneySet::from_events(epoch, rows), dict, cfg.end_ms / 1000)
}

fn z2(x1: f64, n1: f64, x2: f64, n2: f64) -> (f64, f64) {
    let p = (x1 + x2) / (n1 + n2);
    let se = (p * (1.0 - p) * (1.0 / n1 + 1.0 / n2)).sqrt();
    if se == 0.0 {
        return (0.0, 1.0);
    }
    let z = (x1 / n1 - x2 / n2) / se;
    (z, erfc(z.abs() / 2f64.sqrt()))
}
fn erfc(x: f64) -> f64 {
    // crude
    let t = 1.0 / (1.0 + 0.5 * x);
    t * (-x * x - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
        .exp()
}
fn bh(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| p[a].partial_cmp(&p[b]).unwrap());
    let mut q = vec![0.0; m];
    let mut run = 1.0f64;
    for r in (0..m).rev() {
        run = run.min(p[idx[r]] * m as f64 / (r + 1) as f64);
        q[idx[r]] = run;
    }
    q
}

const PRE: bool = true;
fn analyse(set: &JourneySet, dict: &Dictionary, now: i64, stage_peers: bool) {
    let horizon = 90 * 86400i64;
    let goal = dict.goals()[0];
    let sig = dict.churn_signals();
    let ntp = dict.touchpoints.len();
    let ns = dict.stages.len();
    let (mut n1, mut c1, mut v1) = (vec![0f64; ntp], vec![0f64; ntp], vec![0f64; ntp]);
    // per stage: reached, churned, converted-after-entry ; per tp: touchers' stage stats subtract later
    let (mut sn, mut sc, mut sv) = (vec![0f64; ns + 1], vec![0f64; ns + 1], vec![0f64; ns + 1]);
    let (mut gn, mut gv, mut gsn, mut gsv) = (vec![0f64; ntp], vec![0f64; ntp], vec![0f64; ns + 1], vec![0f64; ns + 1]);
    let mut total = 0f64;
    let mut tch = 0f64;
    let mut tconv = 0f64;
    // for non-touchers in stage: need stage-level sums over touchers too: touchers' churn & conv after stage entry
    let (mut tn, mut tc, mut tv) = (vec![0f64; ntp], vec![0f64; ntp], vec![0f64; ntp]);
    for j in set.iter() {
        let tps = j.touchpoints;
        let first_sig = tps.iter().position(|t| sig.contains(t));
        let last_t = set.epoch_s + *j.times.last().unwrap() as i64;
        let churned = first_sig.is_some() || now - last_t > horizon;
        let end = first_sig.unwrap_or(tps.len());
        let conv_from = |i: usize| tps[i..].contains(&goal);
        let g = tps.iter().position(|&t| t == goal).unwrap_or(tps.len());
        {
            let mut seen = vec![false; ntp];
            let mut sseen = vec![false; ns + 1];
            for i in 0..g {
                let t = tps[i] as usize;
                let s = if stage_peers { dict.stage_index(t as Tp).unwrap_or(ns) } else { 0 };
                let c = (g < tps.len()) as u8 as f64;
                if !sseen[s] {
                    sseen[s] = true;
                    gsn[s] += 1.0;
                    gsv[s] += c;
                }
                if !seen[t] {
                    seen[t] = true;
                    gn[t] += 1.0;
                    gv[t] += c;
                }
            }
        }
        total += 1.0;
        tch += churned as u8 as f64;
        tconv += tps.contains(&goal) as u8 as f64;
        let mut seen = vec![false; ntp];
        let mut sseen = vec![usize::MAX; ns + 1];
        for i in 0..end {
            let t = tps[i] as usize;
            let s = if stage_peers { dict.stage_index(t as Tp).unwrap_or(ns) } else { 0 };
            if sseen[s] == usize::MAX {
                sseen[s] = i;
                sn[s] += 1.0;
                sc[s] += churned as u8 as f64;
                sv[s] += conv_from(i) as u8 as f64;
            }
            if !seen[t] {
                seen[t] = true;
                n1[t] += 1.0;
                c1[t] += churned as u8 as f64;
                v1[t] += conv_from(i) as u8 as f64;
                let e = sseen[s];
                tn[t] += 1.0;
                tc[t] += churned as u8 as f64;
                tv[t] += conv_from(e) as u8 as f64;
            }
        }
    }
    eprintln!("== stage_peers={stage_peers} customers {total} churn {:.3} conv {:.3}", tch / total, tconv / total);
    let mut tests = vec![]; // (tp, reason, z, p, cost, r1, r2, n1)
    for t in 0..ntp {
        let tpd = dict.get(t as Tp);
        if n1[t] < 30.0 || tpd.churn {
            continue;
        }
        let s = if stage_peers { dict.stage_index(t as Tp).unwrap_or(ns) } else { 0 };
        let (pn, pc, pv) = (sn[s] - tn[t], sc[s] - tc[t], sv[s] - tv[t]);
        if pn < 30.0 {
            continue;
        }
        let (z, p) = z2(c1[t], n1[t], pc, pn);
        tests.push((t, "exit", z, p, n1[t] * (c1[t] / n1[t] - pc / pn), c1[t] / n1[t], pc / pn, n1[t]));
        if t as Tp != goal && PRE && gn[t] >= 30.0 && gsn[s] - gn[t] >= 30.0 {
            let (a, b, c, d) = (gv[t], gn[t], gsv[s] - gv[t], gsn[s] - gn[t]);
            let (z, p) = z2(a, b, c, d);
            tests.push((t, "gconv", -z, p, b * (c / d - a / b), a / b, c / d, b));
        } else if t as Tp != goal && !PRE {
            let (z, p) = z2(v1[t], n1[t], pv, pn);
            tests.push((t, "conv", -z, p, n1[t] * (pv / pn - v1[t] / n1[t]), v1[t] / n1[t], pv / pn, n1[t]));
        }
    }
    let q = bh(&tests.iter().map(|x| x.3).collect::<Vec<_>>());
    let mut sig_: Vec<_> = tests.iter().zip(&q).filter(|(x, &q)| q <= 0.05 && x.2 > 0.0).collect();
    sig_.sort_by(|a, b| b.0 .4.partial_cmp(&a.0 .4).unwrap());
    for (x, q) in sig_.iter().take(12) {
        eprintln!(
            "{:24} {:5} n={:5} rate {:.3} vs {:.3} z={:6.2} q={:.2e} cost {:.0}",
            dict.key(x.0 as Tp),
            x.1,
            x.7,
            x.5,
            x.6,
            x.2,
            q,
            x.4
        );
    }
}

#[test]
#[ignore]
fn explore2() {
    for (ev, seed) in [(150_000, 7), (150_000, 1), (150_000, 2026), (1_000_000, 7)] {
        let (set, dict, now) = load(ev, seed);
        eprintln!("##### {ev} seed {seed}");
        analyse(&set, &dict, now, true);
        analyse(&set, &dict, now, false);
    }
}

#[test]
#[ignore]
fn explore() {
    let (set, dict, now) = load(150_000, 7);
    let horizon = 90 * 86400i64;
    let goal = dict.goals()[0];
    let sig = dict.churn_signals();
    let n = set.customer_count();
    let ntp = dict.touchpoints.len();
    let mut reach = vec![0usize; ntp];
    let mut conv = vec![0usize; ntp];
    let mut conv_after = vec![0usize; ntp];
    let mut churned_t = vec![0usize; ntp];
    let mut exit = vec![0usize; ntp];
    let mut last3_ch = vec![0usize; ntp];
    let mut last3_st = vec![0usize; ntp];
    let (mut nconv, mut nch, mut nsig) = (0, 0, 0);
    for j in set.iter() {
        let tps = j.touchpoints;
        let converted = tps.contains(&goal);
        let first_sig = tps.iter().position(|t| sig.contains(t));
        let last_t = set.epoch_s + *j.times.last().unwrap() as i64;
        let silent = now - last_t > horizon;
        let churned = first_sig.is_some() || silent;
        nconv += converted as usize;
        nch += churned as usize;
        nsig += first_sig.is_some() as usize;
        let end = first_sig.unwrap_or(tps.len());
        let mut seen = vec![false; ntp];
        for (i, &t) in tps.iter().enumerate() {
            if !seen[t as usize] {
                seen[t as usize] = true;
                reach[t as usize] += 1;
                conv[t as usize] += converted as usize;
                conv_after[t as usize] += tps[i..].contains(&goal) as usize;
                churned_t[t as usize] += (churned && i < end) as usize;
            }
        }
        if churned && end > 0 {
            exit[tps[end - 1] as usize] += 1;
        }
        let mut l3 = vec![false; ntp];
        for &t in &tps[end.saturating_sub(3)..end] {
            l3[t as usize] = true;
        }
        for t in 0..ntp {
            if l3[t] {
                if churned {
                    last3_ch[t] += 1
                } else {
                    last3_st[t] += 1
                }
            }
        }
    }
    eprintln!(
        "customers {n} events {} conv {:.3} churn {:.3} signal {:.3}",
        set.event_count(),
        nconv as f64 / n as f64,
        nch as f64 / n as f64,
        nsig as f64 / n as f64
    );
    let bc = nconv as f64 / n as f64;
    let bch = nch as f64 / n as f64;
    let mut rows: Vec<_> = (0..ntp).filter(|&t| reach[t] > 0).collect();
    rows.sort_by_key(|&t| std::cmp::Reverse(exit[t] as i64 - (reach[t] as f64 * bch) as i64));
    eprintln!(
        "{:24} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>8} {:>6} {:>6}",
        "tp", "reach", "conv", "cafter", "churn", "exit", "xsChurn", "xsExit", "l3ch", "l3st"
    );
    for t in rows {
        let r = reach[t] as f64;
        eprintln!(
            "{:24} {:>6} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>8.0} {:>8.0} {:>6.3} {:>6.3}",
            dict.key(t as Tp),
            reach[t],
            conv[t] as f64 / r,
            conv_after[t] as f64 / r,
            churned_t[t] as f64 / r,
            exit[t] as f64 / r,
            r * (churned_t[t] as f64 / r - bch),
            r * (exit[t] as f64 / r - bch),
            last3_ch[t] as f64 / nch as f64,
            last3_st[t] as f64 / (n - nch) as f64
        );
    }
    let _ = bc;
}
