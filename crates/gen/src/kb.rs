//! The knowledge base of the demo brand (Zahrádka): ten help topics, each written in Czech,
//! Polish and English ([`articles`]), and as many synthetic articles as a benchmark wants
//! ([`synthetic_articles`]), seeded.
//!
//! The planted failure of self-service: no article is about a **late delivery**. Customers
//! who search for "zpoždění" or "opóźnienie" find nothing (no article contains a form of
//! either word, nor "late" or "delay"), and the analyses should show where they go next.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::OnceLock;
use touchpoint_core::i18n::Lang;
use touchpoint_selfserve::search::{Doc, Index, Query};

/// One article: its language tag, title and text (paragraphs separated by a blank line,
/// `- ` list items).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbArticle {
    /// `cs`, `pl` or `en`.
    pub lang: &'static str,
    /// The title.
    pub title: String,
    /// The text.
    pub body: String,
}

/// The demo's help topics, each as (cs, pl, en) (title, text).
const TOPICS: &[[(&str, &str); 3]] = &[
    [
        ("Vrácení zboží do 14 dnů", "Zboží zakoupené v e-shopu můžete vrátit do 14 dnů od převzetí bez udání důvodu.\n\n- Vyplňte formulář pro vrácení v sekci Moje objednávky.\n- Zboží zabalte, nejlépe v původním obalu.\n- Zásilku odešlete zdarma z kterékoli pobočky Zásilkovny.\n\nPeníze vrátíme do 14 dnů od doručení vráceného zboží, stejnou cestou, jakou jste platili."),
        ("Zwroty towaru w ciągu 14 dni", "Towar kupiony w sklepie internetowym możesz zwrócić w ciągu 14 dni od odbioru bez podania przyczyny.\n\n- Wypełnij formularz zwrotu w sekcji Moje zamówienia.\n- Zapakuj towar, najlepiej w oryginalne opakowanie.\n- Nadaj paczkę bezpłatnie w dowolnym punkcie InPost.\n\nPieniądze zwrócimy w ciągu 14 dni od otrzymania zwrotu, tą samą metodą płatności."),
        ("Returning goods within 14 days", "You can return anything you bought in our shop within 14 days of receiving it, without giving a reason.\n\n- Fill in the return form under My orders.\n- Pack the goods, ideally in their original packaging.\n- Send the parcel free of charge from any pick-up point.\n\nWe refund the money within 14 days of receiving the return, to the payment method you used."),
    ],
    [
        ("Reklamace zboží", "Pokud je zboží vadné nebo poškozené, podejte reklamaci do 24 měsíců od převzetí.\n\nReklamaci zadáte v sekci Moje objednávky tlačítkem Reklamovat. Přiložte fotografii vady a popis problému. Reklamaci vyřídíme nejpozději do 30 dnů a o výsledku vás budeme informovat e-mailem.\n\nPoškozenou zásilku prosím reklamujte u dopravce hned při převzetí."),
        ("Reklamacja towaru", "Jeśli towar jest wadliwy lub uszkodzony, złóż reklamację w ciągu 24 miesięcy od odbioru.\n\nReklamację zgłosisz w sekcji Moje zamówienia przyciskiem Reklamuj. Dołącz zdjęcie wady i opis problemu. Reklamację rozpatrzymy w ciągu 14 dni i poinformujemy Cię o wyniku e-mailem.\n\nUszkodzoną przesyłkę zgłoś kurierowi od razu przy odbiorze."),
        ("Complaints and warranty claims", "If an item is faulty or damaged, you can make a warranty claim within 24 months of receiving it.\n\nStart the claim under My orders with the Claim button. Attach a photo of the fault and describe the problem. We settle claims within 30 days and tell you the outcome by e-mail.\n\nPlease report a damaged parcel to the courier when you receive it."),
    ],
    [
        ("Způsoby platby", "Objednávku můžete zaplatit platební kartou, bankovním převodem, Apple Pay nebo Google Pay, nebo na dobírku.\n\nPlatba kartou je nejrychlejší: objednávku odešleme hned po zaplacení. Při platbě převodem odešleme zboží po připsání platby na náš účet."),
        ("Metody płatności", "Za zamówienie możesz zapłacić kartą płatniczą, szybkim przelewem, BLIK-iem, Apple Pay lub Google Pay albo przy odbiorze.\n\nPłatność kartą i BLIK-iem jest najszybsza: zamówienie wyślemy zaraz po zaksięgowaniu płatności."),
        ("Payment methods", "You can pay for your order by card, bank transfer, Apple Pay or Google Pay, or cash on delivery.\n\nCard payment is the fastest: we dispatch the order as soon as it is paid. With a bank transfer we dispatch it once the payment reaches our account."),
    ],
    [
        ("Zamítnutá platba kartou", "Když banka platbu kartou zamítne, objednávka zůstane uložená a můžete ji zaplatit znovu.\n\n- Zkontrolujte limit karty pro platby na internetu.\n- Ověřte, že máte zapnuté 3D Secure ověření.\n- Zkuste jinou kartu nebo platbu převodem.\n\nPeníze z neúspěšné platby se vám nestrhnou; pokud ano, banka je uvolní během několika dnů."),
        ("Odrzucona płatność kartą", "Gdy bank odrzuci płatność kartą, zamówienie zostaje zapisane i możesz zapłacić ponownie.\n\n- Sprawdź limit karty dla płatności internetowych.\n- Upewnij się, że weryfikacja 3D Secure jest włączona.\n- Spróbuj innej karty albo BLIK-a.\n\nŚrodki z nieudanej płatności nie zostaną pobrane; jeśli zostały zablokowane, bank zwolni je w ciągu kilku dni."),
        ("A declined card payment", "When your bank declines a card payment, the order is kept and you can pay again.\n\n- Check your card's limit for online payments.\n- Make sure 3D Secure verification is switched on.\n- Try another card or a bank transfer.\n\nA failed payment is not charged; if the amount was blocked, your bank releases it within a few days."),
    ],
    [
        ("Sledování zásilky", "Jakmile zásilku předáme dopravci, pošleme vám e-mail s odkazem na sledování.\n\nStav zásilky najdete také v sekci Moje objednávky. Dopravce vás den předem upozorní SMS zprávou na čas doručení."),
        ("Śledzenie przesyłki", "Gdy przekażemy paczkę kurierowi, wyślemy Ci e-mail z linkiem do śledzenia.\n\nStatus przesyłki znajdziesz też w sekcji Moje zamówienia. Kurier powiadomi Cię SMS-em o godzinie doręczenia."),
        ("Tracking your parcel", "As soon as we hand your parcel to the courier, we e-mail you a tracking link.\n\nYou can also see the parcel's status under My orders. The courier texts you the delivery time the day before."),
    ],
    [
        ("Osobní odběr na prodejně", "Objednávku si můžete vyzvednout zdarma na kterékoli z našich prodejen.\n\nJakmile bude zboží připravené, pošleme vám SMS s kódem pro výdej. Objednávka na vás na prodejně počká 7 dní."),
        ("Odbiór osobisty w sklepie", "Zamówienie możesz odebrać bezpłatnie w dowolnym z naszych sklepów.\n\nGdy towar będzie gotowy, wyślemy Ci SMS z kodem odbioru. Zamówienie czeka w sklepie 7 dni."),
        ("Click and collect in store", "You can collect your order free of charge from any of our stores.\n\nWhen it is ready, we text you a collection code. The order waits for you in the store for 7 days."),
    ],
    [
        ("Změna nebo zrušení objednávky", "Objednávku můžete změnit nebo zrušit, dokud ji nepředáme dopravci.\n\nV sekci Moje objednávky zvolte Upravit nebo Zrušit. Pokud už byla objednávka odeslaná, můžete zboží po doručení vrátit."),
        ("Zmiana lub anulowanie zamówienia", "Zamówienie możesz zmienić lub anulować, dopóki nie przekażemy go kurierowi.\n\nW sekcji Moje zamówienia wybierz Edytuj lub Anuluj. Jeśli zamówienie zostało już wysłane, możesz zwrócić towar po doręczeniu."),
        ("Changing or cancelling an order", "You can change or cancel an order until we hand it to the courier.\n\nUnder My orders choose Edit or Cancel. If the order has already been dispatched, you can return the goods once they arrive."),
    ],
    [
        ("Faktura a daňový doklad", "Fakturu vám pošleme e-mailem po odeslání objednávky a najdete ji také v sekci Moje objednávky.\n\nPokud nakupujete na firmu, vyplňte v objednávce IČO a DIČ. Opravu faktury si můžete vyžádat do 15 dnů."),
        ("Faktura VAT", "Fakturę wyślemy e-mailem po wysłaniu zamówienia, znajdziesz ją też w sekcji Moje zamówienia.\n\nJeśli kupujesz na firmę, podaj w zamówieniu NIP. Korektę faktury możesz zamówić w ciągu 15 dni."),
        ("Invoices", "We e-mail your invoice when the order is dispatched, and you can also find it under My orders.\n\nIf you buy for a company, enter its VAT number with the order. You can ask for a corrected invoice within 15 days."),
    ],
    [
        ("Zapomenuté heslo", "Na přihlašovací stránce klikněte na Zapomenuté heslo a zadejte svůj e-mail.\n\nPošleme vám odkaz pro nastavení nového hesla, platný 24 hodin. Pokud e-mail nepřišel, zkontrolujte složku s nevyžádanou poštou."),
        ("Zapomniane hasło", "Na stronie logowania kliknij Zapomniałem hasła i podaj swój e-mail.\n\nWyślemy Ci link do ustawienia nowego hasła, ważny 24 godziny. Jeśli wiadomość nie dotarła, sprawdź folder spam."),
        ("Forgotten password", "On the sign-in page click Forgotten password and enter your e-mail address.\n\nWe send you a link to set a new password, valid for 24 hours. If the e-mail does not arrive, check your spam folder."),
    ],
    [
        ("Záruka na rostliny", "Na všechny rostliny dáváme záruku ujmutí 6 měsíců.\n\nPokud rostlina při správné péči uhyne, pošlete nám fotografii a rostlinu vám zdarma vyměníme nebo vrátíme peníze. Rady k péči najdete u každého produktu."),
        ("Gwarancja na rośliny", "Na wszystkie rośliny udzielamy 6-miesięcznej gwarancji przyjęcia.\n\nJeśli roślina mimo właściwej pielęgnacji obumrze, wyślij nam zdjęcie, a bezpłatnie ją wymienimy lub zwrócimy pieniądze. Porady dotyczące pielęgnacji znajdziesz przy każdym produkcie."),
        ("Plant guarantee", "Every plant comes with a 6-month guarantee that it takes root.\n\nIf a plant dies despite proper care, send us a photo and we replace it free of charge or refund you. Care advice is on every product page."),
    ],
];

/// The demo brand's knowledge base: every topic in Czech, Polish and English (30 articles).
pub fn articles() -> Vec<KbArticle> {
    let mut out = Vec::new();
    for topic in TOPICS {
        for (lang, (title, body)) in ["cs", "pl", "en"].into_iter().zip(topic) {
            out.push(KbArticle { lang, title: title.to_string(), body: body.to_string() });
        }
    }
    out
}

/// What customers with a late parcel search for, in Czech and Polish: no article has it.
pub(crate) const LATE_QUERIES: [&[&str]; 2] =
    [&["zpoždění", "zpozdeni", "Zpoždění", "zpožděním"], &["opóźnienie", "opoznienie", "Opóźnienie", "opóźnieniem"]];
/// What customers about to return or claim something search for.
pub(crate) const RETURN_QUERIES: [&[&str]; 2] = [
    &["reklamace", "reklamaci", "vrácení zboží", "vrátit zboží"],
    &["reklamacja", "zwrot towaru", "zwrotu", "reklamację"],
];
/// What customers who help themselves search for.
pub(crate) const OTHER_QUERIES: [&[&str]; 2] = [
    &["faktura", "záruka na rostliny", "zapomenuté heslo", "osobní odběr", "platba kartou"],
    &["faktura", "gwarancja", "hasło", "odbiór osobisty", "płatność kartą"],
];

/// The demo's articles as the portal's search index has them, ids 1–30 in
/// [`articles`]' order (the order the demo writes them into a fresh store).
fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let docs = articles()
            .into_iter()
            .enumerate()
            .map(|(i, a)| Doc {
                id: i as i64 + 1,
                lang: Lang::parse(a.lang).unwrap_or(Lang::En),
                title: a.title,
                body: a.body,
            })
            .collect();
        Index::build(docs)
    })
}

/// How many of the demo's articles a portal search finds (at most 255), and the best one:
/// what the portal would answer.
pub(crate) fn results(lang: &str, query: &str) -> (u8, Option<u8>) {
    let found = index().search(&Query { text: query.into(), lang: Lang::parse(lang), limit: 1, prefix: false });
    (found.total.min(255) as u8, found.hits.first().map(|h| h.id as u8))
}

/// The title of the demo's article `id` (1–30).
pub(crate) fn title(id: u8) -> &'static str {
    static TITLES: OnceLock<Vec<String>> = OnceLock::new();
    let all = TITLES.get_or_init(|| articles().into_iter().map(|a| a.title).collect());
    all.get(usize::from(id).wrapping_sub(1)).map(String::as_str).unwrap_or("")
}

/// `n` synthetic articles for a benchmark, seeded: each in one of the three languages,
/// a title of 2–6 words and a text of 60–400 words, drawn (Zipf-like, so some words are
/// common and most rare) from the demo's own words and made-up ones.
pub fn synthetic_articles(n: usize, seed: u64) -> Vec<KbArticle> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let vocab: [Vec<String>; 3] = [0, 1, 2].map(|i| {
        let mut words: Vec<String> = TOPICS
            .iter()
            .flat_map(|t| {
                format!("{} {}", t[i].0, t[i].1)
                    .split(|c: char| !c.is_alphanumeric())
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|w| w.chars().count() > 2)
            .collect();
        words.sort();
        words.dedup();
        let syllables =
            ["ka", "ro", "vé", "ní", "st", "prz", "ło", "ze", "ty", "mi", "ná", "ko", "wa", "rę", "ch", "lu"];
        let mut seeded = ChaCha8Rng::seed_from_u64(seed ^ (i as u64 + 1));
        while words.len() < 20_000 {
            let k = seeded.gen_range(2..5);
            words.push((0..k).map(|_| syllables[seeded.gen_range(0..syllables.len())]).collect());
        }
        words
    });
    let draw = |rng: &mut ChaCha8Rng, lang: usize| -> String {
        // Zipf-like: the rank is exponential in a uniform draw.
        let v = &vocab[lang];
        let r = (v.len() as f64).powf(rng.gen::<f64>()) as usize - 1;
        v[r.min(v.len() - 1)].clone()
    };
    (0..n)
        .map(|_| {
            let lang = rng.gen_range(0..3);
            let title_words = rng.gen_range(2..7);
            let body_words = rng.gen_range(60..401);
            let mut title: Vec<String> = (0..title_words).map(|_| draw(&mut rng, lang)).collect();
            if let Some(first) = title.first_mut() {
                let mut c = first.chars();
                *first = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
            }
            let body: Vec<String> = (0..body_words).map(|_| draw(&mut rng, lang)).collect();
            KbArticle { lang: ["cs", "pl", "en"][lang], title: title.join(" "), body: body.join(" ") + "." }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_articles_and_no_late_delivery() {
        let all = articles();
        assert_eq!(all.len(), 30);
        for a in &all {
            let text = format!("{} {}", a.title, a.body).to_lowercase();
            for word in text.split(|c: char| !c.is_alphanumeric()) {
                for planted in ["zpožd", "opóźn", "late", "delay"] {
                    assert!(!word.starts_with(planted), "{:?} says {word:?}", a.title);
                }
            }
        }
    }

    #[test]
    fn late_searches_find_nothing_and_the_others_find_an_article() {
        for (c, lang) in ["cs", "pl"].into_iter().enumerate() {
            for q in LATE_QUERIES[c] {
                assert_eq!(results(lang, q), (0, None), "{q}");
            }
            for q in RETURN_QUERIES[c].iter().chain(OTHER_QUERIES[c]) {
                let (n, best) = results(lang, q);
                assert!(n > 0 && best.is_some(), "{q} finds nothing");
                assert_eq!(articles()[usize::from(best.unwrap()) - 1].lang, lang, "{q}");
            }
        }
        assert_eq!(title(4), "Reklamace zboží");
        assert_eq!(title(0), "");
    }

    #[test]
    fn synthetic_articles_are_seeded() {
        assert_eq!(synthetic_articles(50, 3), synthetic_articles(50, 3));
        assert_ne!(synthetic_articles(50, 3), synthetic_articles(50, 4));
        let a = synthetic_articles(200, 1);
        assert!(a.iter().all(|x| !x.title.is_empty() && x.body.split(' ').count() >= 60));
        assert!(["cs", "pl", "en"].iter().all(|l| a.iter().any(|x| x.lang == *l)));
    }
}
