//! The demo brand's world: Zahrádka, a home & garden e-shop selling in Czechia
//! (zahradka.cz) and Poland (zahradka.pl) — its assortment, web paths, traffic sources,
//! carriers, stores, competitors, and the names and words of its customers.
//!
//! Everything here is static data; the journeys in [`crate::sim`] pick from it. Two-element
//! arrays are indexed by [`Country::idx`]: `[Czech, Polish]`.

/// The brand's display name.
pub const BRAND_NAME: &str = "Zahrádka";

/// The market a customer shops in; it fixes the site, language and currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Country {
    /// Czechia: zahradka.cz, Czech, CZK.
    Cz,
    /// Poland: zahradka.pl, Polish, PLN.
    Pl,
}

impl Country {
    /// Index into the `[cs, pl]` tables.
    pub(crate) fn idx(self) -> usize {
        match self {
            Country::Cz => 0,
            Country::Pl => 1,
        }
    }
    /// ISO country code.
    pub(crate) fn code(self) -> &'static str {
        ["CZ", "PL"][self.idx()]
    }
    /// Language code.
    pub(crate) fn lang(self) -> &'static str {
        ["cs", "pl"][self.idx()]
    }
    /// Locale sent in `context.locale`.
    pub(crate) fn locale(self) -> &'static str {
        ["cs-CZ", "pl-PL"][self.idx()]
    }
    /// Currency code.
    pub(crate) fn currency(self) -> &'static str {
        ["CZK", "PLN"][self.idx()]
    }
    /// The shop's origin.
    pub(crate) fn origin(self) -> &'static str {
        ["https://zahradka.cz", "https://zahradka.pl"][self.idx()]
    }
}

/// A product category.
pub(crate) struct Category {
    /// Names `[cs, pl]`.
    pub name: [&'static str; 2],
    /// URL slugs `[cs, pl]`.
    pub slug: [&'static str; 2],
}

/// One product of the assortment.
pub(crate) struct Product {
    /// Index into [`CATEGORIES`].
    pub cat: u8,
    /// Names `[cs, pl]`.
    pub name: [&'static str; 2],
    /// URL slugs `[cs, pl]`.
    pub slug: [&'static str; 2],
    /// Price in haléře (CZK × 100).
    pub czk: i64,
    /// Price in grosze (PLN × 100).
    pub pln: i64,
}

impl Product {
    /// Price in minor units of the country's currency.
    pub(crate) fn price(&self, c: Country) -> i64 {
        match c {
            Country::Cz => self.czk,
            Country::Pl => self.pln,
        }
    }
}

/// Categories; the URL is `/kategorie/<slug>` (cs) or `/kategoria/<slug>` (pl).
pub(crate) const CATEGORIES: &[Category] = &[
    Category { name: ["Zahradní nářadí", "Narzędzia ogrodowe"], slug: ["zahradni-naradi", "narzedzia-ogrodowe"] },
    Category { name: ["Zavlažování", "Nawadnianie"], slug: ["zavlazovani", "nawadnianie"] },
    Category {
        name: ["Semínka a sazenice", "Nasiona i sadzonki"], slug: ["seminka-a-sazenice", "nasiona-i-sadzonki"]
    },
    Category {
        name: ["Hnojiva a substráty", "Nawozy i podłoża"], slug: ["hnojiva-a-substraty", "nawozy-i-podloza"]
    },
    Category { name: ["Zahradní nábytek", "Meble ogrodowe"], slug: ["zahradni-nabytek", "meble-ogrodowe"] },
    Category { name: ["Sekačky", "Kosiarki"], slug: ["sekacky", "kosiarki"] },
    Category {
        name: ["Květináče a truhlíky", "Doniczki i skrzynki"],
        slug: ["kvetinace-a-truhliky", "doniczki-i-skrzynki"],
    },
    Category { name: ["Grily", "Grille"], slug: ["grily", "grille"] },
];

macro_rules! p {
    ($cat:expr, $cs:expr, $pl:expr, $scs:expr, $spl:expr, $czk:expr, $pln:expr) => {
        Product { cat: $cat, name: [$cs, $pl], slug: [$scs, $spl], czk: $czk * 100, pln: $pln }
    };
}

/// The assortment; the URL is `/produkt/<slug>` on both sites, the id `ZH-<1000 + index>`.
pub(crate) const PRODUCTS: &[Product] = &[
    p!(0, "Rýč s násadou", "Szpadel z trzonkiem", "ryc-s-nasadou", "szpadel-z-trzonkiem", 549, 9999),
    p!(0, "Zahradní nůžky", "Sekator ogrodowy", "zahradni-nuzky", "sekator-ogrodowy", 399, 7499),
    p!(0, "Hrábě na listí", "Grabie do liści", "hrabe-na-listi", "grabie-do-lisci", 289, 4999),
    p!(0, "Kolečko 100 l", "Taczka 100 l", "kolecko-100-l", "taczka-100-l", 1890, 34900),
    p!(1, "Zahradní hadice 25 m", "Wąż ogrodowy 25 m", "zahradni-hadice-25-m", "waz-ogrodowy-25-m", 749, 13999),
    p!(1, "Zavlažovací počítač", "Sterownik nawadniania", "zavlazovaci-pocitac", "sterownik-nawadniania", 1490, 27900),
    p!(1, "Kropicí pistole", "Pistolet zraszający", "kropici-pistole", "pistolet-zraszajacy", 199, 3999),
    p!(
        1,
        "Sud na dešťovou vodu 300 l",
        "Beczka na deszczówkę 300 l",
        "sud-na-destovou-vodu-300-l",
        "beczka-na-deszczowke-300-l",
        1290,
        23900
    ),
    p!(
        2,
        "Rajčata Cherry, semínka",
        "Pomidor koktajlowy, nasiona",
        "rajcata-cherry-seminka",
        "pomidor-koktajlowy-nasiona",
        39,
        699
    ),
    p!(
        2,
        "Sazenice jahodníku 10 ks",
        "Sadzonki truskawek 10 szt.",
        "sazenice-jahodniku-10-ks",
        "sadzonki-truskawek-10-szt",
        249,
        4499
    ),
    p!(2, "Travní směs 2 kg", "Mieszanka traw 2 kg", "travni-smes-2-kg", "mieszanka-traw-2-kg", 459, 8499),
    p!(2, "Levandule v květináči", "Lawenda w doniczce", "levandule-v-kvetinaci", "lawenda-w-doniczce", 159, 2999),
    p!(
        3,
        "Substrát pro rajčata 50 l",
        "Podłoże do pomidorów 50 l",
        "substrat-pro-rajcata-50-l",
        "podloze-do-pomidorow-50-l",
        189,
        3499
    ),
    p!(
        3,
        "Hnojivo na trávník 5 kg",
        "Nawóz do trawnika 5 kg",
        "hnojivo-na-travnik-5-kg",
        "nawoz-do-trawnika-5-kg",
        399,
        6999
    ),
    p!(3, "Kompostér 400 l", "Kompostownik 400 l", "komposter-400-l", "kompostownik-400-l", 1190, 21900),
    p!(
        4,
        "Zahradní lavice z akátu",
        "Ławka ogrodowa z akacji",
        "zahradni-lavice-z-akatu",
        "lawka-ogrodowa-z-akacji",
        3990,
        74900
    ),
    p!(
        4,
        "Sestava ratanového nábytku",
        "Zestaw mebli rattanowych",
        "sestava-ratanoveho-nabytku",
        "zestaw-mebli-rattanowych",
        12990,
        239900
    ),
    p!(4, "Slunečník 3 m", "Parasol ogrodowy 3 m", "slunecnik-3-m", "parasol-ogrodowy-3-m", 1590, 29900),
    p!(4, "Houpací síť", "Hamak ogrodowy", "houpaci-sit", "hamak-ogrodowy", 690, 12999),
    p!(
        5,
        "Akumulátorová sekačka 36 V",
        "Kosiarka akumulatorowa 36 V",
        "akumulatorova-sekacka-36-v",
        "kosiarka-akumulatorowa-36-v",
        7490,
        139900
    ),
    p!(
        5,
        "Benzínová sekačka 46 cm",
        "Kosiarka spalinowa 46 cm",
        "benzinova-sekacka-46-cm",
        "kosiarka-spalinowa-46-cm",
        8990,
        169900
    ),
    p!(5, "Robotická sekačka", "Kosiarka automatyczna", "roboticka-sekacka", "kosiarka-automatyczna", 19990, 369900),
    p!(5, "Strunová sekačka", "Podkaszarka żyłkowa", "strunova-sekacka", "podkaszarka-zylkowa", 1990, 36900),
    p!(
        6,
        "Keramický květináč 30 cm",
        "Doniczka ceramiczna 30 cm",
        "keramicky-kvetinac-30-cm",
        "doniczka-ceramiczna-30-cm",
        449,
        8499
    ),
    p!(
        6,
        "Truhlík na balkon 80 cm",
        "Skrzynka balkonowa 80 cm",
        "truhlik-na-balkon-80-cm",
        "skrzynka-balkonowa-80-cm",
        229,
        4299
    ),
    p!(6, "Vyvýšený záhon", "Podwyższona grządka", "vyvyseny-zahon", "podwyzszona-grzadka", 2490, 45900),
    p!(7, "Kotlový gril 57 cm", "Grill węglowy 57 cm", "kotlovy-gril-57-cm", "grill-weglowy-57-cm", 3490, 64900),
    p!(7, "Plynový gril", "Grill gazowy", "plynovy-gril", "grill-gazowy", 9990, 184900),
    p!(7, "Dřevěné uhlí 10 kg", "Węgiel drzewny 10 kg", "drevene-uhli-10-kg", "wegiel-drzewny-10-kg", 299, 5499),
];

/// Web paths of the shop; the brand catalog's rules match exactly these prefixes.
pub(crate) mod paths {
    /// Category pages.
    pub const CATEGORY: [&str; 2] = ["/kategorie/", "/kategoria/"];
    /// Product pages (the same on both sites).
    pub const PRODUCT: &str = "/produkt/";
    /// The cart.
    pub const CART: [&str; 2] = ["/kosik", "/koszyk"];
    /// Checkout steps: delivery, payment.
    pub const CHECKOUT: [[&str; 2]; 2] =
        [["/pokladna/doprava", "/pokladna/platba"], ["/zamowienie/dostawa", "/zamowienie/platnosc"]];
    /// Help-centre root.
    pub const HELP: [&str; 2] = ["/napoveda/", "/pomoc/"];
    /// Blog root.
    pub const BLOG: &str = "/blog/";
}

/// Help-centre topics `[cs, pl]` slugs: delivery, payment, complaints, returns, tracking.
pub(crate) const HELP_TOPICS: &[[&str; 2]] = &[
    ["doprava", "dostawa"],
    ["platba", "platnosci"],
    ["reklamace", "reklamacje"],
    ["vraceni-zbozi", "zwroty"],
    ["sledovani-zasilky", "sledzenie-przesylki"],
];
/// Help topic index of delivery questions.
pub(crate) const HELP_DELIVERY: u8 = 0;
/// Help topic index of payment questions.
pub(crate) const HELP_PAYMENT: u8 = 1;
/// Help topic index of complaints.
pub(crate) const HELP_COMPLAINT: u8 = 2;
/// Help topic index of returns.
pub(crate) const HELP_RETURNS: u8 = 3;
/// Help topic index of parcel tracking.
pub(crate) const HELP_TRACKING: u8 = 4;

/// Blog articles `[cs, pl]` slugs.
pub(crate) const BLOG_POSTS: &[[&str; 2]] = &[
    ["jak-zalozit-travnik", "jak-zalozyc-trawnik"],
    ["kdy-sazet-rajcata", "kiedy-sadzic-pomidory"],
    ["zavlazovani-v-suchu", "nawadnianie-podczas-suszy"],
    ["priprava-zahrady-na-zimu", "przygotowanie-ogrodu-do-zimy"],
    ["vyvyseny-zahon-krok-za-krokem", "podwyzszona-grzadka-krok-po-kroku"],
    ["jak-vybrat-sekacku", "jak-wybrac-kosiarke"],
];

/// Page titles `[cs, pl]`: home, cart, checkout, help, blog.
pub(crate) const TITLE_HOME: [&str; 2] = ["Zahrádka – vše pro vaši zahradu", "Zahrádka – wszystko dla Twojego ogrodu"];
/// Title of the cart page.
pub(crate) const TITLE_CART: [&str; 2] = ["Košík | Zahrádka", "Koszyk | Zahrádka"];
/// Title of the checkout pages.
pub(crate) const TITLE_CHECKOUT: [&str; 2] = ["Pokladna | Zahrádka", "Zamówienie | Zahrádka"];
/// Title of the help centre.
pub(crate) const TITLE_HELP: [&str; 2] = ["Nápověda | Zahrádka", "Pomoc | Zahrádka"];
/// Title of the blog.
pub(crate) const TITLE_BLOG: [&str; 2] = ["Blog | Zahrádka", "Blog | Zahrádka"];

/// Search-engine referrers `[cs, pl]`, by weight.
pub(crate) const SEARCH_REFERRERS: [&[(&str, u32)]; 2] = [
    &[("https://www.google.cz/", 60), ("https://search.seznam.cz/", 32), ("https://www.bing.com/", 8)],
    &[("https://www.google.pl/", 88), ("https://www.bing.com/", 8), ("https://duckduckgo.com/", 4)],
];
/// Social-network referrers (unpaid posts and shares).
pub(crate) const SOCIAL_REFERRERS: &[(&str, u32)] = &[
    ("https://www.facebook.com/", 45),
    ("https://l.instagram.com/", 25),
    ("https://www.pinterest.com/", 20),
    ("https://www.youtube.com/", 10),
];
/// Review and price-comparison sites `[cs, pl]`.
pub(crate) const REVIEW_REFERRERS: [&[(&str, u32)]; 2] = [
    &[("https://www.heureka.cz/", 70), ("https://www.zbozi.cz/", 30)],
    &[("https://www.ceneo.pl/", 80), ("https://www.opineo.pl/", 20)],
];
/// Discussion forums `[cs, pl]`; the garden forums are claimed by a brand rule.
pub(crate) const FORUM_REFERRERS: [&[(&str, u32)]; 2] = [
    &[("https://www.zahradaweb.cz/forum/", 55), ("https://www.modrykonik.cz/forum/", 45)],
    &[("https://www.ogrodowisko.pl/", 60), ("https://wykop.pl/", 40)],
];
/// Garden forums the default catalog does not know, added by a brand rule.
pub(crate) const GARDEN_FORUMS: &str = "zahradaweb.cz|ogrodowisko.pl|forum.muratordom.pl";
/// Paid-search ad sources `[cs, pl]`.
pub(crate) const AD_SOURCES: [&[(&str, u32)]; 2] = [&[("google", 60), ("sklik", 40)], &[("google", 100)]];
/// Paid-social sources.
pub(crate) const PAID_SOCIAL_SOURCES: &[(&str, u32)] = &[("facebook", 65), ("instagram", 35)];
/// Seasonal campaign names `[cs, pl]` for months 1–12 (index month − 1).
pub(crate) const SEASON_CAMPAIGNS: [[&str; 12]; 2] = [
    [
        "zimni-vyprodej",
        "zimni-vyprodej",
        "jaro-2026",
        "jaro-2026",
        "jaro-2026",
        "leto-2026",
        "leto-2026",
        "leto-2026",
        "podzim-2026",
        "podzim-2026",
        "podzim-2026",
        "vanoce-2026",
    ],
    [
        "zimowa-wyprzedaz",
        "zimowa-wyprzedaz",
        "wiosna-2026",
        "wiosna-2026",
        "wiosna-2026",
        "lato-2026",
        "lato-2026",
        "lato-2026",
        "jesien-2026",
        "jesien-2026",
        "jesien-2026",
        "swieta-2026",
    ],
];

/// Payment methods `[cs, pl]` and how often they are used; card-like methods can fail.
pub(crate) const PAYMENT_METHODS: [&[(&str, u32)]; 2] = [
    &[("card", 45), ("gopay", 20), ("bank-transfer", 15), ("cash-on-delivery", 20)],
    &[("blik", 45), ("card", 25), ("payu", 20), ("cash-on-delivery", 10)],
];
/// Why a card or payment-gateway payment fails.
pub(crate) const PAYMENT_FAILURES: &[(&str, u32)] =
    &[("card-declined", 40), ("3ds-timeout", 25), ("gateway-error", 20), ("insufficient-funds", 15)];
/// Why a BLIK payment (a six-digit code confirmed in the banking app) fails.
pub(crate) const BLIK_FAILURES: &[(&str, u32)] =
    &[("blik-code-expired", 55), ("blik-rejected-in-app", 30), ("gateway-error", 15)];
/// Carriers `[cs, pl]`.
pub(crate) const CARRIERS: [&[(&str, u32)]; 2] = [
    &[("PPL", 40), ("Zásilkovna", 35), ("DPD", 15), ("Česká pošta", 10)],
    &[("InPost", 60), ("DPD", 25), ("Poczta Polska", 15)],
];
/// The brand's garden centres, where click-and-collect orders are picked up `[cs, pl]`.
pub(crate) const STORES: [&[(&str, u32)]; 2] = [
    &[("Praha-Zličín", 45), ("Brno-Modřice", 35), ("Ostrava-Avion", 20)],
    &[("Kraków-Zakopianka", 55), ("Katowice-Trzy Stawy", 45)],
];
/// Competitors customers leave for `[cs, pl]`.
pub(crate) const COMPETITORS: [&[(&str, u32)]; 2] = [
    &[("Hornbach", 30), ("OBI", 25), ("Mall.cz", 20), ("Bauhaus", 15), ("Alza", 10)],
    &[("Castorama", 35), ("Leroy Merlin", 30), ("OBI", 15), ("Allegro", 20)],
];
/// Reasons given for leaving (exit survey or account deletion).
pub(crate) const CHURN_REASONS: &[&str] = &["late-delivery", "price", "assortment", "customer-service", "other"];
/// Return reasons.
pub(crate) const RETURN_REASONS: &[(&str, u32)] =
    &[("changed-mind", 45), ("wrong-size", 25), ("damaged", 15), ("not-as-described", 15)];
/// Complaint reasons.
pub(crate) const COMPLAINT_REASONS: &[(&str, u32)] =
    &[("damaged-in-transit", 40), ("defect", 35), ("missing-part", 25)];
/// The word for a formal complaint `[cs, pl]`.
pub(crate) const COMPLAINT_WORD: [&str; 2] = ["reklamace", "reklamacja"];
/// Review sites where customers write reviews `[cs, pl]`.
pub(crate) const REVIEW_SITES: [&[(&str, u32)]; 2] =
    [&[("heureka.cz", 75), ("google.com", 25)], &[("ceneo.pl", 75), ("google.com", 25)]];
/// Networks products are shared on.
pub(crate) const SHARE_NETWORKS: &[(&str, u32)] = &[("facebook", 50), ("pinterest", 30), ("whatsapp", 20)];
/// Customer segments (a trait from the CRM).
pub(crate) const SEGMENTS: &[(&str, u32)] =
    &[("hobby-gardener", 45), ("balcony-grower", 25), ("new-homeowner", 20), ("landscaper", 10)];
/// The mobile app's version.
pub(crate) const APP_VERSION: &str = "3.4.1";

/// Open-text answers to the NPS survey `[cs, pl]`: what promoters say.
pub(crate) const COMMENTS_GOOD: [&[&str]; 2] = [
    &[
        "Rychlé doručení a pěkně zabalené, děkuji!",
        "Skvělý výběr sazenic, určitě objednám znovu.",
        "Všechno v pořádku.\nDoporučuji.",
        "Ochotná paní na chatu mi poradila s hadicí.",
    ],
    &[
        "Szybka dostawa i dobrze zapakowane, dziękuję!",
        "Świetny wybór sadzonek, na pewno zamówię ponownie.",
        "Wszystko w porządku.\nPolecam.",
        "Miła obsługa na czacie pomogła mi wybrać wąż.",
    ],
];
/// Open-text answers of passives and detractors after an ordinary delivery `[cs, pl]`.
pub(crate) const COMMENTS_MEH: [&[&str]; 2] = [
    &["Ceny by mohly být nižší.", "Chyběla mi velikost, kterou jsem chtěl.", "Web je na mobilu trochu pomalý."],
    &["Ceny mogłyby być niższe.", "Brakowało rozmiaru, którego szukałem.", "Strona na telefonie działa trochę wolno."],
];
/// Open-text answers after a late delivery `[cs, pl]`.
pub(crate) const COMMENTS_LATE: [&[&str]; 2] = [
    &[
        "Zásilka přišla o týden později, než jste slíbili.",
        "Kurýr napsal \"doručeno\", ale balík nikde.",
        "Doručení zpožděno a nikdo se neozval. Příště jinde.",
    ],
    &[
        "Paczka przyszła tydzień później, niż obiecaliście.",
        "Kurier napisał \"doręczono\", a paczki nie ma.",
        "Opóźniona dostawa i nikt się nie odezwał. Następnym razem gdzie indziej.",
    ],
];
/// Open-text answers after a long wait on the phone `[cs, pl]`.
pub(crate) const COMMENTS_WAIT: [&[&str]; 2] = [
    &["Na lince jsem čekal přes dvacet minut.", "Dovolat se k vám je nemožné."],
    &["Czekałem na infolinii ponad dwadzieścia minut.", "Nie da się do was dodzwonić."],
];

/// Female first names `[cs, pl]`.
pub(crate) const FIRST_F: [&[&str]; 2] = [
    &[
        "Jana",
        "Eva",
        "Hana",
        "Anna",
        "Lenka",
        "Kateřina",
        "Lucie",
        "Věra",
        "Alena",
        "Petra",
        "Veronika",
        "Jaroslava",
        "Tereza",
        "Martina",
        "Zdeňka",
        "Markéta",
        "Ludmila",
        "Jiřina",
    ],
    &[
        "Anna",
        "Maria",
        "Katarzyna",
        "Małgorzata",
        "Agnieszka",
        "Barbara",
        "Ewa",
        "Krystyna",
        "Magdalena",
        "Joanna",
        "Zofia",
        "Dorota",
        "Elżbieta",
        "Bożena",
        "Grażyna",
        "Łucja",
    ],
];
/// Male first names `[cs, pl]`.
pub(crate) const FIRST_M: [&[&str]; 2] = [
    &[
        "Jiří",
        "Jan",
        "Petr",
        "Josef",
        "Pavel",
        "Martin",
        "Tomáš",
        "Jaroslav",
        "Miroslav",
        "Zdeněk",
        "Václav",
        "Michal",
        "František",
        "Lukáš",
        "Ondřej",
        "Radek",
        "Luboš",
        "Stanislav",
    ],
    &[
        "Piotr",
        "Krzysztof",
        "Andrzej",
        "Tomasz",
        "Paweł",
        "Michał",
        "Marcin",
        "Grzegorz",
        "Łukasz",
        "Wojciech",
        "Jakub",
        "Mateusz",
        "Józef",
        "Zbigniew",
        "Sławomir",
    ],
];
/// Surnames `(male, female)` `[cs, pl]`.
pub(crate) const SURNAMES: [&[(&str, &str)]; 2] = [
    &[
        ("Novák", "Nováková"),
        ("Svoboda", "Svobodová"),
        ("Novotný", "Novotná"),
        ("Dvořák", "Dvořáková"),
        ("Černý", "Černá"),
        ("Procházka", "Procházková"),
        ("Kučera", "Kučerová"),
        ("Veselý", "Veselá"),
        ("Horák", "Horáková"),
        ("Němec", "Němcová"),
        ("Pospíšil", "Pospíšilová"),
        ("Pokorný", "Pokorná"),
        ("Hájek", "Hájková"),
        ("Král", "Králová"),
        ("Jelínek", "Jelínková"),
        ("Růžička", "Růžičková"),
        ("Beneš", "Benešová"),
        ("Fiala", "Fialová"),
        ("Sedláček", "Sedláčková"),
        ("Doležal", "Doležalová"),
        ("Zeman", "Zemanová"),
        ("Kolář", "Kolářová"),
        ("Šťastný", "Šťastná"),
        ("Žák", "Žáková"),
    ],
    &[
        ("Nowak", "Nowak"),
        ("Kowalski", "Kowalska"),
        ("Wiśniewski", "Wiśniewska"),
        ("Wójcik", "Wójcik"),
        ("Kowalczyk", "Kowalczyk"),
        ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"),
        ("Zieliński", "Zielińska"),
        ("Szymański", "Szymańska"),
        ("Woźniak", "Woźniak"),
        ("Dąbrowski", "Dąbrowska"),
        ("Kozłowski", "Kozłowska"),
        ("Jankowski", "Jankowska"),
        ("Mazur", "Mazur"),
        ("Kwiatkowski", "Kwiatkowska"),
        ("Krawczyk", "Krawczyk"),
        ("Piotrowski", "Piotrowska"),
        ("Grabowski", "Grabowska"),
        ("Pawłowski", "Pawłowska"),
        ("Michalski", "Michalska"),
        ("Król", "Król"),
        ("Wieczorek", "Wieczorek"),
        ("Jabłoński", "Jabłońska"),
        ("Wróbel", "Wróbel"),
        ("Stępień", "Stępień"),
    ],
];
/// Cities `[cs, pl]`, by weight.
pub(crate) const CITIES: [&[(&str, u32)]; 2] = [
    &[
        ("Praha", 30),
        ("Brno", 14),
        ("Ostrava", 8),
        ("Plzeň", 6),
        ("Liberec", 4),
        ("Olomouc", 4),
        ("České Budějovice", 4),
        ("Hradec Králové", 4),
        ("Ústí nad Labem", 3),
        ("Pardubice", 3),
        ("Zlín", 3),
        ("Kladno", 2),
        ("Jihlava", 2),
        ("Třebíč", 1),
        ("Říčany", 1),
    ],
    &[
        ("Warszawa", 22),
        ("Kraków", 14),
        ("Łódź", 8),
        ("Wrocław", 9),
        ("Poznań", 7),
        ("Gdańsk", 6),
        ("Szczecin", 4),
        ("Bydgoszcz", 4),
        ("Lublin", 4),
        ("Białystok", 3),
        ("Katowice", 5),
        ("Gdynia", 3),
        ("Częstochowa", 2),
        ("Rzeszów", 3),
        ("Toruń", 2),
        ("Bielsko-Biała", 2),
    ],
];
/// E-mail providers `[cs, pl]`, by weight.
pub(crate) const EMAIL_DOMAINS: [&[(&str, u32)]; 2] = [
    &[("seznam.cz", 45), ("gmail.com", 35), ("email.cz", 10), ("centrum.cz", 5), ("post.cz", 5)],
    &[("gmail.com", 45), ("wp.pl", 20), ("onet.pl", 15), ("o2.pl", 10), ("interia.pl", 10)],
];

/// Lowercase ASCII for an e-mail local part: strips Czech and Polish diacritics.
pub(crate) fn ascii_fold(s: &str, out: &mut String) {
    for ch in s.chars() {
        let c = match ch {
            'á' | 'Á' | 'ą' | 'Ą' => 'a',
            'č' | 'Č' | 'ć' | 'Ć' => 'c',
            'ď' | 'Ď' => 'd',
            'é' | 'É' | 'ě' | 'Ě' | 'ę' | 'Ę' => 'e',
            'í' | 'Í' => 'i',
            'ł' | 'Ł' => 'l',
            'ň' | 'Ň' | 'ń' | 'Ń' => 'n',
            'ó' | 'Ó' => 'o',
            'ř' | 'Ř' => 'r',
            'š' | 'Š' | 'ś' | 'Ś' => 's',
            'ť' | 'Ť' => 't',
            'ú' | 'Ú' | 'ů' | 'Ů' => 'u',
            'ý' | 'Ý' => 'y',
            'ž' | 'Ž' | 'ź' | 'Ź' | 'ż' | 'Ż' => 'z',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => continue,
        };
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_leaves_plain_ascii() {
        let mut all = String::new();
        for list in FIRST_F.iter().chain(FIRST_M.iter()) {
            for n in list.iter() {
                all.clear();
                ascii_fold(n, &mut all);
                assert!(!all.is_empty() && all.bytes().all(|b| b.is_ascii_lowercase()), "{n} -> {all}");
            }
        }
        let mut s = String::new();
        ascii_fold("Šťastná Łucja Žák", &mut s);
        assert_eq!(s, "stastnalucjazak");
    }

    #[test]
    fn tables_are_consistent() {
        assert!(PRODUCTS.iter().all(|p| (p.cat as usize) < CATEGORIES.len()));
        assert!(PRODUCTS.len() < 256 && BLOG_POSTS.len() < 256 && HELP_TOPICS.len() < 256);
        for slug in PRODUCTS.iter().flat_map(|p| p.slug).chain(CATEGORIES.iter().flat_map(|c| c.slug)) {
            assert!(slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{slug}");
        }
    }
}
