// Touchpoint's dashboard: a small script, no build step. It reads the same /api routes as
// any client, with the signed-in session (the page hands over who is signed in, their
// projects and the CSRF token as JSON). A view's whole state is in the address (#…), so a
// view can be shared and reloaded; the language is remembered in this browser.

const boot = JSON.parse(document.getElementById("boot").textContent);

const T = {
  en: {
    customersView: "Customers", customer: "Customer", findCustomer: "Find a customer", findHint: "user id, e-mail, #number or trait=value", find: "Find",
    notFound: (q) => `No customer has the id ${q}.`, name: "Name", userId: "User id", since: "Since", profile: "Profile", identities: "Identities",
    conflicts: (n) => `${n} identity conflicts: ids that point to another known customer.`, timeline: "Timeline", noEvents: "No events.",
    export: "Export (JSON)", erase: "Erase everywhere", eraseConfirm: (id) => `Erase customer #${id} from every store? This cannot be undone.`, erased: "Erased.",
    funnel: "Funnel", step: (n) => `Step ${n}`, addStep: "Add a step", removeStep: "Remove the last step", window: "Conversion window",
    strict: "Strict order", breakdown: "Breakdown", noBreakdown: "None", firstChannel: "First-touch channel", firstStage: "First-touch stage",
    fromPrevious: "from the previous step", fromFirst: "from step 1", median: "median time", whoDropped: "Who dropped here",
    droppedAfter: (s, n) => `Dropped after step ${s}: ${n} customers (the first 100 ids)`, allCustomers: "All customers",
    churnView: "Churn", listening: "Listening", churned: "Customers who left", ofCustomers: (n) => `of ${n} customers`, how: "How they left",
    bySignal: "Said so (a churn touchpoint)", bySilence: "Went silent", churnHelp: (d) => `Who left in this period: by a churn touchpoint, or by going ${d} days without any touchpoint; out of everyone who had not left before it began.`, silenceNote: (d) => `In a period this recent, churn counts only the customers who said so (a churn touchpoint): going ${d} days without a touchpoint cannot be seen yet. A longer period shows both.`, drivers: "What preceded leaving",
    driversHelp: "Touchpoints more common among customers who left than among those who stayed, significant after correcting for the number of tests.",
    amongChurned: "Among those who left", amongStayed: "Among those who stayed", lift: "Lift", noDrivers: "No touchpoint is significantly more common before leaving.",
    signals: "Churn touchpoints", survey: "Survey", metric: "Metric", noSurveys: "No surveys yet.", byTouchpoint: "By the touchpoint asked about",
    intervalsHelp: "Each line is a 95 % interval; red marks a touchpoint significantly worse than the rest.", everyone: "Everyone",
    intervalsLabel: (m) => `${m} by touchpoint with 95 % intervals`, worse: "significantly worse", better: "significantly better", vsRest: "Against the rest",
    overview: "Overview", journey: "Journey map", project: "Project", period: "Period", compare: "Compare to the previous period",
    language: "Language", signout: "Sign out", days: (n) => `Last ${n} days`, events: "Events", touchpointEvents: "Touchpoint events",
    vsPrevious: "vs the previous period", points: "pp", partialPrev: (d) => `The data begin on ${d}: not every customer of the previous period who went silent can be seen.`, noPrevious: "no events in the previous period", perDay: "Events per day and channel",
    asTable: "Show as a table", day: "Day", channel: "Channel", total: "Total", csv: "Download CSV", png: "Download PNG",
    painPoints: "Top pain points", touchpoint: "Touchpoint", stage: "Stage", reach: "Reach", lost: "Customers lost",
    exitRate: "Exit rate", conversion: "Conversion", churn: "Churn", significance: "q-value", customers: "Customers",
    noData: "No events in this period yet.", openJourney: "Open the journey map", error: "Could not load this view",
    chartLabel: (n, d) => `Bar chart of ${n} events over ${d} days, by channel`, none: "none",
    customersNote: "with a touchpoint in the period", unclassified: "No stage", emptyStage: "No customers at this stage in this period.", painPoint: "Pain point",
    noPain: "No touchpoint stands out as a pain point in this period.", why: "Why", moreChurn: "more churn", lessConversion: "less conversion",
  },
  cs: {
    customersView: "Zákazníci", customer: "Zákazník", findCustomer: "Najít zákazníka", findHint: "user id, e-mail, #číslo nebo vlastnost=hodnota", find: "Najít",
    notFound: (q) => `Žádný zákazník nemá id ${q}.`, name: "Jméno", userId: "User id", since: "Od", profile: "Profil", identities: "Identity",
    conflicts: (n) => `${n} konfliktů identit: id, která ukazují na jiného známého zákazníka.`, timeline: "Časová osa", noEvents: "Žádné události.",
    export: "Export (JSON)", erase: "Vymazat všude", eraseConfirm: (id) => `Vymazat zákazníka #${id} ze všech úložišť? Nelze vrátit.`, erased: "Vymazáno.",
    funnel: "Trychtýř", step: (n) => `Krok ${n}`, addStep: "Přidat krok", removeStep: "Odebrat poslední krok", window: "Okno konverze",
    strict: "Přísné pořadí", breakdown: "Rozpad", noBreakdown: "Žádný", firstChannel: "Kanál prvního kontaktu", firstStage: "Fáze prvního kontaktu",
    fromPrevious: "z předchozího kroku", fromFirst: "z kroku 1", median: "medián času", whoDropped: "Kdo tu odpadl",
    droppedAfter: (s, n) => `Odpadli po kroku ${s}: ${n} zákazníků (prvních 100 id)`, allCustomers: "Všichni zákazníci",
    churnView: "Odchody", listening: "Naslouchání", churned: "Zákazníci, kteří odešli", ofCustomers: (n) => `z ${n} zákazníků`, how: "Jak odešli",
    bySignal: "Řekli to (kontaktní bod odchodu)", bySilence: "Odmlčeli se", churnHelp: (d) => `Kdo v tomto období odešel: kontaktním bodem odchodu, nebo tím, že ${d} dní neměl žádný kontaktní bod; ze všech, kdo neodešli už před jeho začátkem.`, silenceNote: (d) => `V tak nedávném období se za odchod počítají jen zákazníci, kteří to řekli (kontaktní bod odchodu): ${d} dní bez kontaktního bodu zatím nelze poznat. Delší období ukáže obojí.`, drivers: "Co odchodu předcházelo",
    driversHelp: "Kontaktní body častější u zákazníků, kteří odešli, než u těch, kteří zůstali, významné i po korekci na počet testů.",
    amongChurned: "U odešlých", amongStayed: "U zůstávajících", lift: "Násobek", noDrivers: "Žádný kontaktní bod není před odchodem významně častější.",
    signals: "Kontaktní body odchodu", survey: "Průzkum", metric: "Metrika", noSurveys: "Zatím žádné průzkumy.", byTouchpoint: "Podle kontaktního bodu, na který se ptáme",
    intervalsHelp: "Každá úsečka je 95% interval; červeně kontaktní bod významně horší než ostatní.", everyone: "Všichni",
    intervalsLabel: (m) => `${m} podle kontaktního bodu s 95% intervaly`, worse: "významně horší", better: "významně lepší", vsRest: "Oproti ostatním",
    overview: "Přehled", journey: "Mapa cesty", project: "Projekt", period: "Období", compare: "Porovnat s předchozím obdobím",
    language: "Jazyk", signout: "Odhlásit se", days: (n) => `Posledních ${n} dní`, events: "Události", touchpointEvents: "Události kontaktních bodů",
    vsPrevious: "oproti předchozímu období", points: "p. b.", partialPrev: (d) => `Data začínají ${d}: ne všichni zákazníci předchozího období, kteří se odmlčeli, jsou vidět.`, noPrevious: "v předchozím období žádné události", perDay: "Události po dnech a kanálech",
    asTable: "Zobrazit jako tabulku", day: "Den", channel: "Kanál", total: "Celkem", csv: "Stáhnout CSV", png: "Stáhnout PNG",
    painPoints: "Hlavní problémová místa", touchpoint: "Kontaktní bod", stage: "Fáze", reach: "Dosah", lost: "Ztracení zákazníci",
    exitRate: "Míra odchodu", conversion: "Konverze", churn: "Odchod", significance: "q-hodnota", customers: "Zákazníci",
    noData: "V tomto období zatím nejsou žádné události.", openJourney: "Otevřít mapu cesty", error: "Tento pohled se nepodařilo načíst",
    chartLabel: (n, d) => `Sloupcový graf ${n} událostí za ${d} dní podle kanálu`, none: "žádné",
    customersNote: "s kontaktním bodem v období", unclassified: "Bez fáze", emptyStage: "V tomto období v této fázi nejsou žádní zákazníci.", painPoint: "Problémové místo",
    noPain: "Žádný kontaktní bod v tomto období nevyčnívá jako problémové místo.", why: "Proč", moreChurn: "vyšší odchod", lessConversion: "nižší konverze",
  },
  pl: {
    customersView: "Klienci", customer: "Klient", findCustomer: "Znajdź klienta", findHint: "user id, e-mail, #numer lub cecha=wartość", find: "Szukaj",
    notFound: (q) => `Żaden klient nie ma id ${q}.`, name: "Imię i nazwisko", userId: "User id", since: "Od", profile: "Profil", identities: "Tożsamości",
    conflicts: (n) => `${n} konfliktów tożsamości: id wskazujące na innego znanego klienta.`, timeline: "Oś czasu", noEvents: "Brak zdarzeń.",
    export: "Eksport (JSON)", erase: "Usuń wszędzie", eraseConfirm: (id) => `Usunąć klienta #${id} ze wszystkich magazynów? Tego nie można cofnąć.`, erased: "Usunięto.",
    funnel: "Lejek", step: (n) => `Krok ${n}`, addStep: "Dodaj krok", removeStep: "Usuń ostatni krok", window: "Okno konwersji",
    strict: "Ścisła kolejność", breakdown: "Podział", noBreakdown: "Brak", firstChannel: "Kanał pierwszego kontaktu", firstStage: "Etap pierwszego kontaktu",
    fromPrevious: "z poprzedniego kroku", fromFirst: "z kroku 1", median: "mediana czasu", whoDropped: "Kto tu odpadł",
    droppedAfter: (s, n) => `Odpadli po kroku ${s}: ${n} klientów (pierwsze 100 id)`, allCustomers: "Wszyscy klienci",
    churnView: "Odejścia", listening: "Słuchanie klientów", churned: "Klienci, którzy odeszli", ofCustomers: (n) => `z ${n} klientów`, how: "Jak odeszli",
    bySignal: "Powiedzieli to (punkt styku odejścia)", bySilence: "Zamilkli", churnHelp: (d) => `Kto odszedł w tym okresie: przez punkt styku odejścia albo przez ${d} dni bez żadnego punktu styku; spośród wszystkich, którzy nie odeszli przed jego początkiem.`, silenceNote: (d) => `W tak niedawnym okresie za odejście liczą się tylko klienci, którzy to powiedzieli (punkt styku odejścia): ${d} dni bez punktu styku nie da się jeszcze zobaczyć. Dłuższy okres pokaże jedno i drugie.`, drivers: "Co poprzedzało odejście",
    driversHelp: "Punkty styku częstsze u klientów, którzy odeszli, niż u tych, którzy zostali, istotne także po korekcie na liczbę testów.",
    amongChurned: "Wśród odchodzących", amongStayed: "Wśród pozostających", lift: "Krotność", noDrivers: "Żaden punkt styku nie jest istotnie częstszy przed odejściem.",
    signals: "Punkty styku odejścia", survey: "Ankieta", metric: "Miara", noSurveys: "Brak ankiet.", byTouchpoint: "Według punktu styku, o który pytamy",
    intervalsHelp: "Każdy odcinek to 95% przedział; na czerwono punkt styku istotnie gorszy od pozostałych.", everyone: "Wszyscy",
    intervalsLabel: (m) => `${m} według punktu styku z 95% przedziałami`, worse: "istotnie gorszy", better: "istotnie lepszy", vsRest: "Względem pozostałych",
    overview: "Przegląd", journey: "Mapa ścieżki", project: "Projekt", period: "Okres", compare: "Porównaj z poprzednim okresem",
    language: "Język", signout: "Wyloguj", days: (n) => `Ostatnie ${n} dni`, events: "Zdarzenia", touchpointEvents: "Zdarzenia punktów styku",
    vsPrevious: "względem poprzedniego okresu", points: "p.p.", partialPrev: (d) => `Dane zaczynają się ${d}: nie wszyscy klienci poprzedniego okresu, którzy zamilkli, są widoczni.`, noPrevious: "brak zdarzeń w poprzednim okresie", perDay: "Zdarzenia dziennie według kanału",
    asTable: "Pokaż jako tabelę", day: "Dzień", channel: "Kanał", total: "Razem", csv: "Pobierz CSV", png: "Pobierz PNG",
    painPoints: "Główne punkty bólu", touchpoint: "Punkt styku", stage: "Etap", reach: "Zasięg", lost: "Utraceni klienci",
    exitRate: "Odsetek wyjść", conversion: "Konwersja", churn: "Odejścia", significance: "wartość q", customers: "Klienci",
    noData: "Brak zdarzeń w tym okresie.", openJourney: "Otwórz mapę ścieżki", error: "Nie udało się wczytać tego widoku",
    chartLabel: (n, d) => `Wykres słupkowy ${n} zdarzeń z ${d} dni według kanału`, none: "brak",
    customersNote: "z punktem styku w okresie", unclassified: "Bez etapu", emptyStage: "W tym okresie na tym etapie nie ma klientów.", painPoint: "Punkt bólu",
    noPain: "Żaden punkt styku nie wyróżnia się w tym okresie jako punkt bólu.", why: "Dlaczego", moreChurn: "więcej odejść", lessConversion: "mniej konwersji",
  },
};
// Words of the later views, added to each language above.
Object.assign(T.en, {
  paths: "Paths", retention: "Retention", attribution: "Attribution", catalog: "Catalog", surveys: "Surveys", health: "Data health",
  after: "After", before: "Before", direction: "Direction", steps: "Steps", startAt: "Paths after", endAt: "Paths before",
  pathsLabel: (k, n) => `Sankey diagram of the paths of ${n} customers around ${k}`, pathsTable: "Customers from one touchpoint to the next",
  from: "From", to: "To", noPaths: "No customer has this touchpoint in the period.", other: "(other)", end: "(left)", start: "(came in)",
  cohortBy: "Cohort by", firstSeen: "First event", returning: "Coming back means", anyEvent: "Any event", cohort: "Cohort",
  periodN: (n, u) => `${u} ${n}`, unit: { day: "Day", week: "Week", month: "Month" }, size: "Customers", overall: "All cohorts",
  retentionHelp: "Share of each cohort that came back in each later period; darker is more.", noCohorts: "No customer entered in this period.",
  retentionLabel: (n) => `Cohort heatmap of ${n} cohorts`,
  goal: "Goal", by: "Credit by", byTouchpoint2: "Touchpoint", byChannel: "Channel", conversions: "Conversions", models: "Models",
  attributionHelp: "Each dot is one model's share of the credit for the goal's conversions.", noGoal: "No touchpoint is a conversion goal yet; mark one in the catalog.",
  attributionLabel: (g) => `Share of credit for ${g} by model`, share: "Share",
  model: { "first-touch": "First touch", "last-touch": "Last touch", linear: "Linear", "time-decay": "Time decay", "position-based": "Position based", markov: "Markov", "markov-2": "Markov (2nd order)", "markov-3": "Markov (3rd order)", shapley: "Shapley" },
  unclassifiedTps: "Unclassified touchpoints", unclassifiedHelp: "Touchpoints discovered from new event names. Give each a stage and a channel.",
  allClassified: "Every touchpoint is classified.", save: "Save", saved: "Saved.", namesIn: (l) => `Name (${l})`, goalFlag: "Conversion goal", churnFlag: "Churn signal",
  touchpoints: "Touchpoints", rules: "Rules", priority: "Priority", eventType: "Event type", eventName: "Event name", conditions: "Conditions", flags: "Flags",
  noRules: "No rules yet.", readOnly: "You can read this project; editing needs the analyst or owner role.",
  status: { draft: "Draft", live: "Live", closed: "Closed" }, perDayOnly: "Events per day", statusLabel: "Status", version: "Version", openLink: "Open link",
  publish: "Publish", close: "Close", responses: "Responses (CSV)", newSurvey: "New NPS survey", key: "Key", trigger: "Asked after", create: "Create",
  questions: "Questions", noQuestions: "No questions.",
  failed: "Failed events", failedHelp: "Events the API refused, with the field and the reason; kept within a quota.", noFailed: "No failed events.",
  received: "Received", source: "Source", field: "Field", reason: "Reason", raw: "As sent", clearFailed: "Delete the failed events", clearConfirm: "Delete every failed event of this project?",
  cleared: (n) => `${n} deleted.`, liveTitle: "Arriving now", liveHelp: "Events as they are acknowledged, newest first.", liveWaiting: "Waiting for events…",
  liveLagged: (n) => `The stream fell behind; ${n} commits were skipped.`, liveOff: "The live stream is not available.", perSecond: "new in the last second",
  classified: "Classified", notTouchpoint: "Not a touchpoint",
});
Object.assign(T.cs, {
  paths: "Cesty", retention: "Udržení", attribution: "Atribuce", catalog: "Katalog", surveys: "Průzkumy", health: "Stav dat",
  after: "Po", before: "Před", direction: "Směr", steps: "Kroky", startAt: "Cesty po", endAt: "Cesty před",
  pathsLabel: (k, n) => `Sankeyův diagram cest ${n} zákazníků kolem bodu ${k}`, pathsTable: "Zákazníci z jednoho kontaktního bodu do dalšího",
  from: "Z", to: "Do", noPaths: "Tento kontaktní bod v období nemá žádný zákazník.", other: "(ostatní)", end: "(odešli)", start: "(přišli)",
  cohortBy: "Kohorta podle", firstSeen: "První události", returning: "Návrat znamená", anyEvent: "Jakákoli událost", cohort: "Kohorta",
  periodN: (n, u) => `${u} ${n}`, unit: { day: "Den", week: "Týden", month: "Měsíc" }, size: "Zákazníci", overall: "Všechny kohorty",
  retentionHelp: "Podíl každé kohorty, který se vrátil v dalších obdobích; tmavší znamená víc.", noCohorts: "V tomto období nepřišel žádný zákazník.",
  retentionLabel: (n) => `Teplotní mapa ${n} kohort`,
  goal: "Cíl", by: "Zásluhy podle", byTouchpoint2: "Kontaktní bod", byChannel: "Kanál", conversions: "Konverze", models: "Modely",
  attributionHelp: "Každá tečka je podíl zásluh jednoho modelu na konverzích cíle.", noGoal: "Žádný kontaktní bod zatím není cílem konverze; označte ho v katalogu.",
  attributionLabel: (g) => `Podíl zásluh na cíli ${g} podle modelu`, share: "Podíl",
  model: { "first-touch": "První kontakt", "last-touch": "Poslední kontakt", linear: "Lineární", "time-decay": "Časový útlum", "position-based": "Podle pozice", markov: "Markov", "markov-2": "Markov (2. řádu)", "markov-3": "Markov (3. řádu)", shapley: "Shapley" },
  unclassifiedTps: "Nezařazené kontaktní body", unclassifiedHelp: "Kontaktní body objevené z nových názvů událostí. Každému dejte fázi a kanál.",
  allClassified: "Všechny kontaktní body jsou zařazené.", save: "Uložit", saved: "Uloženo.", namesIn: (l) => `Název (${l})`, goalFlag: "Cíl konverze", churnFlag: "Signál odchodu",
  touchpoints: "Kontaktní body", rules: "Pravidla", priority: "Priorita", eventType: "Typ události", eventName: "Název události", conditions: "Podmínky", flags: "Příznaky",
  noRules: "Zatím žádná pravidla.", readOnly: "Tento projekt můžete číst; úpravy vyžadují roli analytik nebo vlastník.",
  status: { draft: "Koncept", live: "Sbírá odpovědi", closed: "Uzavřený" }, perDayOnly: "Události po dnech", statusLabel: "Stav", version: "Verze", openLink: "Otevřený odkaz",
  publish: "Zveřejnit", close: "Uzavřít", responses: "Odpovědi (CSV)", newSurvey: "Nový průzkum NPS", key: "Klíč", trigger: "Ptát se po", create: "Vytvořit",
  questions: "Otázky", noQuestions: "Žádné otázky.",
  failed: "Odmítnuté události", failedHelp: "Události, které API odmítlo, s polem a důvodem; uchovávají se v rámci kvóty.", noFailed: "Žádné odmítnuté události.",
  received: "Přijato", source: "Zdroj", field: "Pole", reason: "Důvod", raw: "Jak přišlo", clearFailed: "Smazat odmítnuté události", clearConfirm: "Smazat všechny odmítnuté události tohoto projektu?",
  cleared: (n) => `Smazáno: ${n}.`, liveTitle: "Právě přichází", liveHelp: "Události, jak jsou potvrzovány, nejnovější nahoře.", liveWaiting: "Čekám na události…",
  liveLagged: (n) => `Proud nestíhal; ${n} zápisů přeskočeno.`, liveOff: "Živý proud není k dispozici.", perSecond: "nových za poslední sekundu",
  classified: "Zařazeno", notTouchpoint: "Není kontaktní bod",
});
Object.assign(T.pl, {
  paths: "Ścieżki", retention: "Retencja", attribution: "Atrybucja", catalog: "Katalog", surveys: "Ankiety", health: "Stan danych",
  after: "Po", before: "Przed", direction: "Kierunek", steps: "Kroki", startAt: "Ścieżki po", endAt: "Ścieżki przed",
  pathsLabel: (k, n) => `Diagram Sankeya ścieżek ${n} klientów wokół punktu ${k}`, pathsTable: "Klienci z jednego punktu styku do następnego",
  from: "Z", to: "Do", noPaths: "Żaden klient nie ma tego punktu styku w tym okresie.", other: "(inne)", end: "(odeszli)", start: "(przyszli)",
  cohortBy: "Kohorta według", firstSeen: "Pierwszego zdarzenia", returning: "Powrót oznacza", anyEvent: "Dowolne zdarzenie", cohort: "Kohorta",
  periodN: (n, u) => `${u} ${n}`, unit: { day: "Dzień", week: "Tydzień", month: "Miesiąc" }, size: "Klienci", overall: "Wszystkie kohorty",
  retentionHelp: "Odsetek każdej kohorty, który wrócił w kolejnych okresach; ciemniej znaczy więcej.", noCohorts: "W tym okresie nie przyszedł żaden klient.",
  retentionLabel: (n) => `Mapa cieplna ${n} kohort`,
  goal: "Cel", by: "Zasługi według", byTouchpoint2: "Punkt styku", byChannel: "Kanał", conversions: "Konwersje", models: "Modele",
  attributionHelp: "Każda kropka to udział jednego modelu w zasługach za konwersje celu.", noGoal: "Żaden punkt styku nie jest jeszcze celem konwersji; oznacz go w katalogu.",
  attributionLabel: (g) => `Udział w zasługach za cel ${g} według modelu`, share: "Udział",
  model: { "first-touch": "Pierwszy kontakt", "last-touch": "Ostatni kontakt", linear: "Liniowy", "time-decay": "Zanik w czasie", "position-based": "Według pozycji", markov: "Markow", "markov-2": "Markow (2. rzędu)", "markov-3": "Markow (3. rzędu)", shapley: "Shapley" },
  unclassifiedTps: "Niesklasyfikowane punkty styku", unclassifiedHelp: "Punkty styku odkryte z nowych nazw zdarzeń. Nadaj każdemu etap i kanał.",
  allClassified: "Wszystkie punkty styku są sklasyfikowane.", save: "Zapisz", saved: "Zapisano.", namesIn: (l) => `Nazwa (${l})`, goalFlag: "Cel konwersji", churnFlag: "Sygnał odejścia",
  touchpoints: "Punkty styku", rules: "Reguły", priority: "Priorytet", eventType: "Typ zdarzenia", eventName: "Nazwa zdarzenia", conditions: "Warunki", flags: "Flagi",
  noRules: "Brak reguł.", readOnly: "Możesz czytać ten projekt; edycja wymaga roli analityka lub właściciela.",
  status: { draft: "Szkic", live: "Zbiera odpowiedzi", closed: "Zamknięta" }, perDayOnly: "Zdarzenia dziennie", statusLabel: "Stan", version: "Wersja", openLink: "Link otwarty",
  publish: "Opublikuj", close: "Zamknij", responses: "Odpowiedzi (CSV)", newSurvey: "Nowa ankieta NPS", key: "Klucz", trigger: "Pytaj po", create: "Utwórz",
  questions: "Pytania", noQuestions: "Brak pytań.",
  failed: "Odrzucone zdarzenia", failedHelp: "Zdarzenia odrzucone przez API, z polem i powodem; przechowywane w ramach limitu.", noFailed: "Brak odrzuconych zdarzeń.",
  received: "Odebrano", source: "Źródło", field: "Pole", reason: "Powód", raw: "Jak przyszło", clearFailed: "Usuń odrzucone zdarzenia", clearConfirm: "Usunąć wszystkie odrzucone zdarzenia tego projektu?",
  cleared: (n) => `Usunięto: ${n}.`, liveTitle: "Właśnie przychodzi", liveHelp: "Zdarzenia w chwili potwierdzenia, najnowsze na górze.", liveWaiting: "Czekam na zdarzenia…",
  liveLagged: (n) => `Strumień nie nadążał; pominięto ${n} zapisów.`, liveOff: "Strumień na żywo jest niedostępny.", perSecond: "nowych w ostatniej sekundzie",
  classified: "Sklasyfikowano", notTouchpoint: "To nie punkt styku",
});
Object.assign(T.en, {
  distribution: "Answers", distLabel: (m) => `Distribution of ${m} answers`, answer: "Answer", trend: "Trend by week", trendLabel: (m, n) => `${m} over ${n} weeks with its 95 % interval band`,
  trendHelp: "The line is the score of each week, the band its 95 % interval.", weekOf: "Week of",
  detractorsSay: "What detractors say that promoters do not", detractorsHelp: (a, b) => `Words and phrases in ${a} detractors' answers, compared with ${b} promoters'; z above 2 is significant. Each with an answer that says it.`,
  term: "Word or phrase", amongDetractors: "Detractors", amongPromoters: "Promoters", quote: "In their words",
  gapsTitle: "Expectations and experience", gapsHelp: "Experience minus expectation in each area (both 0–10), with its 95 % interval (paired t). Below zero, customers got less than they expected; a pale bar's interval crosses zero.", expected: "Expected", experienced: "Experienced", gap: "Gap", driversTitle: "Key drivers", driversQuadrantHelp: (r2) => `Each area's share of what explains the overall rating (relative weights, ${r2} % explained) against how it is rated. Red: above-median importance, below-median rating.`,
  fixFirst: "Fix first", importance: "Importance", performance: "Rating", area: "Area", rank: "Rank",
  benchHeat: "Benchmark: categories × areas", benchHelp: (n) => `Mean rating of each area in each category, ${n} answers; darker is better within this table.`, category: "Category", index: "Index",
  brandRanking: "Brands by index", intervalsHelp2: "Each line is a 95 % interval; brands whose lines overlap are not told apart by the data.",
});
Object.assign(T.cs, {
  distribution: "Odpovědi", distLabel: (m) => `Rozložení odpovědí ${m}`, answer: "Odpověď", trend: "Vývoj po týdnech", trendLabel: (m, n) => `${m} za ${n} týdnů s pásem 95% intervalu`,
  trendHelp: "Čára je skóre každého týdne, pás jeho 95% interval.", weekOf: "Týden od",
  detractorsSay: "Co říkají kritici a propagátoři ne", detractorsHelp: (a, b) => `Slova a fráze v odpovědích ${a} kritiků ve srovnání s ${b} propagátory; z nad 2 je významné. U každého odpověď, která to říká.`,
  term: "Slovo nebo fráze", amongDetractors: "Kritici", amongPromoters: "Propagátoři", quote: "Jejich slovy",
  gapsTitle: "Očekávání a zkušenost", gapsHelp: "Zkušenost minus očekávání v každé oblasti (obojí 0–10) s 95% intervalem (párový t-test). Pod nulou dostali zákazníci méně, než čekali; u světlého pruhu interval zasahuje přes nulu.", expected: "Očekávání", experienced: "Zkušenost", gap: "Rozdíl", driversTitle: "Klíčové faktory", driversQuadrantHelp: (r2) => `Podíl každé oblasti na vysvětlení celkového hodnocení (relativní váhy, vysvětleno ${r2} %) proti tomu, jak je hodnocena. Červeně: nadprůměrně důležité, podprůměrně hodnocené.`,
  fixFirst: "Opravit nejdřív", importance: "Důležitost", performance: "Hodnocení", area: "Oblast", rank: "Pořadí",
  benchHeat: "Benchmark: kategorie × oblasti", benchHelp: (n) => `Průměrné hodnocení každé oblasti v každé kategorii, ${n} odpovědí; tmavší je v této tabulce lepší.`, category: "Kategorie", index: "Index",
  brandRanking: "Značky podle indexu", intervalsHelp2: "Každá úsečka je 95% interval; značky, jejichž úsečky se překrývají, data nerozliší.",
});
Object.assign(T.pl, {
  distribution: "Odpowiedzi", distLabel: (m) => `Rozkład odpowiedzi ${m}`, answer: "Odpowiedź", trend: "Trend tygodniowy", trendLabel: (m, n) => `${m} w ciągu ${n} tygodni z pasmem 95% przedziału`,
  trendHelp: "Linia to wynik każdego tygodnia, pasmo jego 95% przedział.", weekOf: "Tydzień od",
  detractorsSay: "Co mówią krytycy, a promotorzy nie", detractorsHelp: (a, b) => `Słowa i frazy w odpowiedziach ${a} krytyków w porównaniu z ${b} promotorami; z powyżej 2 jest istotne. Przy każdym odpowiedź, która to mówi.`,
  term: "Słowo lub fraza", amongDetractors: "Krytycy", amongPromoters: "Promotorzy", quote: "Ich słowami",
  gapsTitle: "Oczekiwania i doświadczenie", gapsHelp: "Doświadczenie minus oczekiwania w każdym obszarze (oba 0–10) z 95-procentowym przedziałem (test t dla par). Poniżej zera klienci dostali mniej, niż oczekiwali; przedział bladego paska obejmuje zero.", expected: "Oczekiwania", experienced: "Doświadczenie", gap: "Różnica", driversTitle: "Kluczowe czynniki", driversQuadrantHelp: (r2) => `Udział każdego obszaru w wyjaśnieniu oceny ogólnej (wagi względne, wyjaśniono ${r2} %) wobec jego oceny. Na czerwono: ważność powyżej mediany, ocena poniżej.`,
  fixFirst: "Napraw najpierw", importance: "Ważność", performance: "Ocena", area: "Obszar", rank: "Miejsce",
  benchHeat: "Benchmark: kategorie × obszary", benchHelp: (n) => `Średnia ocena każdego obszaru w każdej kategorii, ${n} odpowiedzi; ciemniej znaczy lepiej w tej tabeli.`, category: "Kategoria", index: "Indeks",
  brandRanking: "Marki według indeksu", intervalsHelp2: "Każdy odcinek to 95% przedział; marek, których odcinki się nakładają, dane nie rozróżniają.",
});
Object.assign(T.en, {
  account: "Your account", editRule: "Change", deleteRule: "Delete", editingRule: (id) => `Changing rule ${id}`, saveRule: "Save the rule", ruleSaved: (n) => `Saved; ${n} past events changed touchpoint.`, deleteRuleConfirm: (id) => `Delete rule ${id}? Past events are classified again without it.`, ruleDeleted: (n) => `Deleted; ${n} past events changed touchpoint.`, brand: "Brand", satTrend: (m) => `${m} by week`, openListening: "Open listening", openChurn: "Open churn", keys: "API keys", keysHelp: "Write keys send events from sites and apps (they are public); server keys send events from your own servers and CRM, and only the e-mail addresses they give receive e-mails from rules; secret keys read and administer the project. A key is shown once, when it is made.", keyKind: "Kind", keyStart: "Starts with", keyKinds: { write: "Write", server: "Server", secret: "Secret" }, newKey: (k) => `New ${k.toLowerCase()} key`, keyOnce: "Copy it now: it is not shown again.", revokeKey: "Revoke", revokeKeyOf: (p) => `Revoke the key ${p}…`, revokeConfirm: (p) => `Revoke the key ${p}…? Every site, app or script that uses it stops working within 10 seconds.`, keyRevoked: (p) => `Revoked: ${p}…`, filtersOn: (n) => `${n} filter${n > 1 ? "s" : ""}`, fChannel: "Events of channel", fFirst: "First came through", fTrait: "Customers with trait", allChannels: "All channels", customRange: "Custom dates", dateFrom: "From", dateTo: "To", changePassword: "Change your password", currentPassword: "Current password", newPassword: "New password (at least 10 characters)",
  repeatPassword: "The new password again", mismatch: "The two new passwords differ.", changed: "Changed. Every session has ended: sign in again.",
  invite: "Invite a colleague", inviteHelp: "They get the role on this project. Send them the link it gives; with it they choose their password.",
  roleLabel: "Role", roles: { owner: "Owner", analyst: "Analyst", viewer: "Viewer" }, sendLink: "Send this link (valid 7 days):", inviteEmailed: (e) => `We e-mailed the link to ${e}. Should it not arrive, it is here (valid 7 days):`, inviteNotEmailed: (why) => `The e-mail could not be sent (${why}).`, hadPassword: "Done: the account already had a password.",
  people: "People on this project", waiting: "has not set a password yet", everyProject: "every project",
});
Object.assign(T.cs, {
  account: "Váš účet", editRule: "Změnit", deleteRule: "Smazat", editingRule: (id) => `Změna pravidla ${id}`, saveRule: "Uložit pravidlo", ruleSaved: (n) => `Uloženo; ${n} minulých událostí změnilo kontaktní bod.`, deleteRuleConfirm: (id) => `Smazat pravidlo ${id}? Minulé události se zařadí znovu bez něj.`, ruleDeleted: (n) => `Smazáno; ${n} minulých událostí změnilo kontaktní bod.`, brand: "Značka", satTrend: (m) => `${m} po týdnech`, openListening: "Otevřít naslouchání", openChurn: "Otevřít odchody", keys: "API klíče", keysHelp: "Zapisovací klíče posílají události z webů a aplikací (jsou veřejné); serverové klíče posílají události z vašich serverů a CRM a e-maily z pravidel chodí jen na adresy, které zadaly ony; tajné klíče čtou a spravují projekt. Klíč se zobrazí jen jednou, při vytvoření.", keyKind: "Druh", keyStart: "Začíná", keyKinds: { write: "Zapisovací", server: "Serverový", secret: "Tajný" }, newKey: (k) => `Nový klíč: ${k.toLowerCase()}`, keyOnce: "Zkopírujte si ho hned: znovu se nezobrazí.", revokeKey: "Zneplatnit", revokeKeyOf: (p) => `Zneplatnit klíč ${p}…`, revokeConfirm: (p) => `Zneplatnit klíč ${p}…? Každý web, aplikace či skript, který ho používá, do 10 sekund přestane fungovat.`, keyRevoked: (p) => `Zneplatněno: ${p}…`, filtersOn: (n) => `filtry: ${n}`, fChannel: "Události kanálu", fFirst: "Poprvé přišli přes", fTrait: "Zákazníci s vlastností", allChannels: "Všechny kanály", customRange: "Vlastní data", dateFrom: "Od", dateTo: "Do", changePassword: "Změnit heslo", currentPassword: "Současné heslo", newPassword: "Nové heslo (alespoň 10 znaků)",
  repeatPassword: "Nové heslo znovu", mismatch: "Nová hesla se liší.", changed: "Změněno. Všechna přihlášení skončila: přihlaste se znovu.",
  invite: "Pozvat kolegu", inviteHelp: "Dostane roli v tomto projektu. Pošlete mu odkaz, který se zobrazí; s ním si zvolí heslo.",
  roleLabel: "Role", roles: { owner: "Vlastník", analyst: "Analytik", viewer: "Čtenář" }, sendLink: "Pošlete tento odkaz (platí 7 dní):", inviteEmailed: (e) => `Odkaz jsme poslali e-mailem na ${e}. Kdyby nedorazil, je tady (platí 7 dní):`, inviteNotEmailed: (why) => `E-mail se nepodařilo odeslat (${why}).`, hadPassword: "Hotovo: účet už heslo měl.",
  people: "Lidé v tomto projektu", waiting: "si ještě nezvolil heslo", everyProject: "všechny projekty",
});
Object.assign(T.pl, {
  account: "Twoje konto", editRule: "Zmień", deleteRule: "Usuń", editingRule: (id) => `Zmiana reguły ${id}`, saveRule: "Zapisz regułę", ruleSaved: (n) => `Zapisano; ${n} wcześniejszych zdarzeń zmieniło punkt styku.`, deleteRuleConfirm: (id) => `Usunąć regułę ${id}? Wcześniejsze zdarzenia zostaną sklasyfikowane ponownie bez niej.`, ruleDeleted: (n) => `Usunięto; ${n} wcześniejszych zdarzeń zmieniło punkt styku.`, brand: "Marka", satTrend: (m) => `${m} tygodniowo`, openListening: "Otwórz słuchanie klientów", openChurn: "Otwórz odejścia", keys: "Klucze API", keysHelp: "Klucze zapisu wysyłają zdarzenia ze stron i aplikacji (są publiczne); klucze serwerowe wysyłają zdarzenia z Twoich serwerów i CRM, a e-maile z reguł trafiają tylko na adresy podane przez nie; klucze tajne czytają i administrują projektem. Klucz jest pokazywany raz, przy utworzeniu.", keyKind: "Rodzaj", keyStart: "Zaczyna się od", keyKinds: { write: "Zapisu", server: "Serwerowy", secret: "Tajny" }, newKey: (k) => `Nowy klucz: ${k.toLowerCase()}`, keyOnce: "Skopiuj go teraz: nie zostanie pokazany ponownie.", revokeKey: "Unieważnij", revokeKeyOf: (p) => `Unieważnij klucz ${p}…`, revokeConfirm: (p) => `Unieważnić klucz ${p}…? Każda strona, aplikacja lub skrypt, który go używa, przestanie działać w ciągu 10 sekund.`, keyRevoked: (p) => `Unieważniono: ${p}…`, filtersOn: (n) => `filtry: ${n}`, fChannel: "Zdarzenia kanału", fFirst: "Pierwszy raz przez", fTrait: "Klienci z cechą", allChannels: "Wszystkie kanały", customRange: "Własne daty", dateFrom: "Od", dateTo: "Do", changePassword: "Zmień hasło", currentPassword: "Obecne hasło", newPassword: "Nowe hasło (co najmniej 10 znaków)",
  repeatPassword: "Nowe hasło ponownie", mismatch: "Nowe hasła się różnią.", changed: "Zmieniono. Wszystkie sesje zakończone: zaloguj się ponownie.",
  invite: "Zaproś współpracownika", inviteHelp: "Otrzyma rolę w tym projekcie. Wyślij mu link, który się pojawi; z nim ustali hasło.",
  roleLabel: "Rola", roles: { owner: "Właściciel", analyst: "Analityk", viewer: "Czytelnik" }, sendLink: "Wyślij ten link (ważny 7 dni):", inviteEmailed: (e) => `Wysłaliśmy link e-mailem na ${e}. Gdyby nie dotarł, jest tutaj (ważny 7 dni):`, inviteNotEmailed: (why) => `Nie udało się wysłać e-maila (${why}).`, hadPassword: "Gotowe: konto miało już hasło.",
  people: "Osoby w tym projekcie", waiting: "nie ustaliła jeszcze hasła", everyProject: "wszystkie projekty",
});
Object.assign(T.en, {
  newRule: "A new rule", newRuleHelp: "Events that match become the touchpoint. The preview shows what it would take of the last 1,000 events, as you type.",
  anyType: "Any type", condition: "Condition", noCondition: "No condition", propertyName: "Property", value: "Value", how: "How",
  ops: { equals: "equals", not_equals: "does not equal", prefix: "starts with", contains: "contains", one_of: "is one of (a|b)", exists: "is present", gt: ">", gte: "≥", lt: "<", lte: "≤" },
  wouldTake: (m, n) => `It would take ${m} of the last ${n} events.`, nowAre: "They are now", addRule: "Add the rule", ruleAdded: (n) => `Added; ${n} past events changed touchpoint.`,
});
Object.assign(T.cs, {
  newRule: "Nové pravidlo", newRuleHelp: "Události, které odpovídají, se stanou kontaktním bodem. Náhled ukazuje, co by vzalo z posledních 1 000 událostí, už při psaní.",
  anyType: "Jakýkoli typ", condition: "Podmínka", noCondition: "Bez podmínky", propertyName: "Vlastnost", value: "Hodnota", how: "Jak",
  ops: { equals: "rovná se", not_equals: "nerovná se", prefix: "začíná na", contains: "obsahuje", one_of: "je jedno z (a|b)", exists: "je vyplněno", gt: ">", gte: "≥", lt: "<", lte: "≤" },
  wouldTake: (m, n) => `Vzalo by ${m} z posledních ${n} událostí.`, nowAre: "Nyní jsou", addRule: "Přidat pravidlo", ruleAdded: (n) => `Přidáno; ${n} minulých událostí změnilo kontaktní bod.`,
});
Object.assign(T.pl, {
  newRule: "Nowa reguła", newRuleHelp: "Pasujące zdarzenia stają się punktem styku. Podgląd pokazuje, co wzięłaby z ostatnich 1000 zdarzeń, już podczas pisania.",
  anyType: "Dowolny typ", condition: "Warunek", noCondition: "Bez warunku", propertyName: "Właściwość", value: "Wartość", how: "Jak",
  ops: { equals: "równa się", not_equals: "nie równa się", prefix: "zaczyna się od", contains: "zawiera", one_of: "jest jednym z (a|b)", exists: "jest obecne", gt: ">", gte: "≥", lt: "<", lte: "≤" },
  wouldTake: (m, n) => `Wzięłaby ${m} z ostatnich ${n} zdarzeń.`, nowAre: "Teraz są", addRule: "Dodaj regułę", ruleAdded: (n) => `Dodano; ${n} wcześniejszych zdarzeń zmieniło punkt styku.`,
});
Object.assign(T.en, {
  editSurvey: "Edit", questionN: (n) => `Question ${n}`, questionType: "Kind", required: "Must be answered", questionText: "Question", choicesHelp: "Options, one a line: key | English | Czech | Polish",
  expectation: "Expected", experience: "Experienced", showIf: "Show only when", always: "Always", atLeast: "it is at least", atMost: "it is at most", anyOf: "or one of (keys, commas)",
  removeQuestion: "Remove", surveyTitle: "Title", surveyIntro: "Text above the first question", surveyThanks: "Thank-you text", questionHelp: "Hint under the question", questionArea: "Area it measures (drivers and benchmarks group by it)", thanksPreview: "After the last answer:", addQuestion: "Add a question", cancel: "Cancel", previewIn: "Preview in",
  shownWhen: (q, c) => `Shown when ${q}: ${c}`, noText: (l) => `no text in ${l} yet`,
});
Object.assign(T.cs, {
  editSurvey: "Upravit", questionN: (n) => `Otázka ${n}`, questionType: "Druh", required: "Povinná", questionText: "Otázka", choicesHelp: "Možnosti, jedna na řádek: klíč | anglicky | česky | polsky",
  expectation: "Očekávání", experience: "Zkušenost", showIf: "Zobrazit jen když", always: "Vždy", atLeast: "je alespoň", atMost: "je nejvýš", anyOf: "nebo jedno z (klíče, čárky)",
  removeQuestion: "Odebrat", surveyTitle: "Název", surveyIntro: "Text nad první otázkou", surveyThanks: "Poděkování", questionHelp: "Nápověda pod otázkou", questionArea: "Oblast, kterou měří (podle ní se seskupují hnací faktory a srovnání)", thanksPreview: "Po poslední odpovědi:", addQuestion: "Přidat otázku", cancel: "Zrušit", previewIn: "Náhled v jazyce",
  shownWhen: (q, c) => `Zobrazí se, když ${q}: ${c}`, noText: (l) => `zatím bez textu v jazyce ${l}`,
});
Object.assign(T.pl, {
  editSurvey: "Edytuj", questionN: (n) => `Pytanie ${n}`, questionType: "Rodzaj", required: "Obowiązkowe", questionText: "Pytanie", choicesHelp: "Opcje, jedna w wierszu: klucz | angielski | czeski | polski",
  expectation: "Oczekiwanie", experience: "Doświadczenie", showIf: "Pokaż tylko gdy", always: "Zawsze", atLeast: "wynosi co najmniej", atMost: "wynosi co najwyżej", anyOf: "lub jedno z (klucze, przecinki)",
  removeQuestion: "Usuń", surveyTitle: "Tytuł", surveyIntro: "Tekst nad pierwszym pytaniem", surveyThanks: "Podziękowanie", questionHelp: "Podpowiedź pod pytaniem", questionArea: "Obszar, który mierzy (według niego grupowane są czynniki i porównania)", thanksPreview: "Po ostatniej odpowiedzi:", addQuestion: "Dodaj pytanie", cancel: "Anuluj", previewIn: "Podgląd w języku",
  shownWhen: (q, c) => `Pokazane, gdy ${q}: ${c}`, noText: (l) => `brak tekstu w języku ${l}`,
});
Object.assign(T.en, {
  requests: "Requests", reqHelp: "What customers asked in the portal: reply (they get it by e-mail in their language), assign, and move each from new to closed.",
  reqAll: "All", reqSubject: "Subject", reqStatus: "Status", reqCustomer: "Customer", reqAssignee: "Assignee", reqUpdated: "Last change", reqNone: "No requests here.",
  rstatus: { new: "New", open: "Open", waiting: "Waiting for the customer", resolved: "Resolved", closed: "Closed" },
  reqReply: "Reply to the customer", reqSend: "Save", reqBack: "All requests", reqFromCustomer: "Customer", reqFromTeam: "Team", reqResolvedIn: (h) => `Resolved in ${h} h`,
  reqAssigned: (a) => (a ? `Assigned to ${a}` : "Unassigned"), reqStatusTo: (s) => `Status: ${s}`, reqMailed: { sent: "The reply was e-mailed to the customer.", no_address: "Saved; the customer gave no e-mail address.", no_smtp: "Saved; no SMTP server is configured, so nothing was e-mailed." },
  reqOpened: "Opened", reqLang: "Language", reqSaved: "Saved.", reqEmail: "E-mail",
  triggers: "Trigger rules", triggersHelp: "Messages sent at the key moments, each rule with a hold-out group so its effect can be measured.",
  selfservice: "Self-service", ssHelp: "Does the help centre help? Help-centre visits over the period's length up to today, with who still called or chatted afterwards.",
  ssScore: "Self-service score", ssScoreHelp: (a, b) => `${a} customers helped themselves, ${b} needed a call or chat`,
  ssDeflection: "Deflection", ssDeflectionHelp: (d) => `visits with no call or chat within ${d} days`, ssResolved: "… and resolved", ssResolvedHelp: "the same, and an article helped",
  ssSuccess: "Search success", ssSuccessHelp: "searches followed by an article read", ssNoResults: "No results", ssCost: "Cost saved", ssCostHelp: (n, c) => `${n} visits deflected × ${c}`,
  ssFailed: "Searches that failed", ssFailedHelp: "Nothing found, or nothing read after: what the help centre is missing, most first.", ssQuery: "Query", ssSearches: "Failed", ssNone: "No results", ssThen: "Then called or chatted",
  ssArticles: "Articles", ssReads: "Reads", ssHelped: "Helped", ssNoData: "No help-centre visits in this period yet.",
  kbArticles: "Knowledge base", kbNew: "New article", kbEdit: "Edit", kbTitle: "Title", kbBody: "Text (paragraphs separated by a blank line; lines starting with - are a list)", kbPublished: "Published (customers see it)",
  kbSave: "Save", kbCancel: "Cancel", kbSaved: (v) => `Saved as version ${v}.`, kbDraft: "draft", kbVersion: "Version", kbState: "State", kbOpen: "Open in the portal", kbNone: "No articles yet.",
  noTriggers: "No trigger rules yet. Create one with New rule (or the API, /api/triggers), preview it, then switch it on.",
  prefsTitle: "Messages they accept", prefsHelp: "What trigger rules may send them, by topic and channel, as they or a colleague said (in the portal, an unsubscribe link, the API).", prefsSave: "Save the choices", prefsSaved: "Saved.", prefTopic: "Topic",
  prefChannels: { email: "E-mail", webhook: "Text & app", in_page: "On the site" },
  newRule: "New rule", reName: "Name", reStarts: "What starts it", reSends: "What it sends", reKey: "Key (in the API and the CLI)",
  whenKinds: { happens: "A touchpoint happens", not_followed: "A touchpoint is not followed by another", stage_entered: "A stage is entered", survey_score: "A survey score arrives", health_alert: "A touchpoint strays from its baseline" },
  reTouchpoint: "Touchpoint", reFollowedBy: "… and none of these follows (hold Ctrl to pick several)", reWithin: "Within (30m, 2h, 2d)", reStage: "Stage", reSurvey: "Survey", reMin: "Lowest score", reMax: "Highest score",
  thenKinds: { email: "An e-mail to the customer", webhook: "A webhook to your systems (text messages, apps)", team_alert: "An alert to the team", in_page: "A survey in the customer's page" },
  reCategory: "Kind of message (the customer's choices apply)", categories: { service: "Service", surveys: "Surveys", marketing: "Offers" },
  reLangHelp: "Write the message in the languages you serve (leave the others empty): each customer gets theirs, else English, else the first written. {{ first_name }} (any trait), {{ event.carrier }} (the event's properties) and {{ survey_url }} fill in.",
  reSubject: "Subject", reText: "Text", reInvite: "Attach an invitation to a survey", reNone: "None", reUrl: "Webhook URL", reTeam: "The team's e-mail address", reShow: "Survey to show",
  reHoldout: "Hold-out group (%)", reGoal: "Goal (to measure the effect)", reGoalWithin: "Goal within", reQuiet: "Quiet hours in the customer's time (empty: none)", reCap: "At most this many messages per customer (empty: no cap)", reCapPer: "… per (1d, 7d)",
  reReentry: "How often one customer", reentries: { every_time: "Every time", once: "Once ever", once_per: "Once per period" }, rePer: "Period (30d)",
  reJson: "The rule as JSON: everything, including who it is for and conditions on properties", reBadJson: (m) => `The JSON is not valid: ${m}`,
  reSave: "Save as a draft", reSaveEdit: "Save the changes", reSaved: "Saved. Preview it, then switch it on.", reSecret: (x) => `The webhook's signing secret, shown this once: ${x}`,
  tstatus: { draft: "Draft", live: "Live", paused: "Paused" }, whenLabel: "When", thenLabel: "Then", holdoutLabel: "Held out",
  when: { happens: (k) => `${k} happens`, not_followed: (k, f, w) => `${k} not followed by ${f} within ${w}`, stage_entered: (s) => `stage ${s} entered`, survey_score: (s) => `a score of survey ${s} arrives`, health_alert: (k) => `${k || "any touchpoint"} strays from its baseline (volume or exits)` },
  thenKind: { webhook: "a webhook", email: "an e-mail", team_alert: "an alert to the team", in_page: "a frame in the customer's page" }, withSurvey: (s) => ` with survey ${s}`,
  fstate: { delivered: "Sent", held_out: "Held out", waiting: "Waiting", pending: "Due", suppressed: "Suppressed", cancelled: "Cancelled", dead: "Failed", ready: "Waiting for the page" },
  whySuppressed: "Why suppressed",
  sreason: { consent: "the customer said no", cap: "over the rule's cap", channel_cap: "over the daily cap across rules", too_late: "too late to send (over a day)", no_email_address: "no e-mail address", unverified_email: "address not verified (only the public write key gave it)" },
  previewRule: "Preview the last 30 days", report: "Effect", pause: "Pause", resume: "Switch on",
  wouldHave: (n, m) => `Over the last 30 days this rule would have fired ${n} times for ${m} customers.`,
  heldBack: (q, c, h) => `${q} held by quiet hours, ${c} kept back by caps, ${h} in the hold-out group.`,
  goalLabel: "Goal", treatedLabel: "Sent the message", heldOutLabel: "Held out", convertedOf: (x, n) => `${x} of ${n}`,
  differenceLabel: "Difference", intervalLabel: "95 % interval", pValue: "p-value", movedLabel: "Customers moved",
  noUplift: (t, h, m) => `Not enough to compare yet: ${t} sent, ${h} held out, ${m} still within the goal's horizon.`,
  noGoal: "This rule has no goal: give it one (goal.touchpoint, goal.within) to measure its effect.",
  significantUp: "The message made a significant difference.", notSignificant: "No significant difference so far.",
});
Object.assign(T.cs, {
  requests: "Požadavky", reqHelp: "Co zákazníci napsali v portálu: odpovězte (dostanou to e-mailem ve svém jazyce), přidělte a posouvejte od nového po uzavřený.",
  reqAll: "Všechny", reqSubject: "Předmět", reqStatus: "Stav", reqCustomer: "Zákazník", reqAssignee: "Řeší", reqUpdated: "Poslední změna", reqNone: "Žádné požadavky.",
  rstatus: { new: "Nový", open: "Otevřený", waiting: "Čeká na zákazníka", resolved: "Vyřešený", closed: "Uzavřený" },
  reqReply: "Odpověď zákazníkovi", reqSend: "Uložit", reqBack: "Všechny požadavky", reqFromCustomer: "Zákazník", reqFromTeam: "Tým", reqResolvedIn: (h) => `Vyřešeno za ${h} h`,
  reqAssigned: (a) => (a ? `Přiděleno: ${a}` : "Nepřiděleno"), reqStatusTo: (s) => `Stav: ${s}`, reqMailed: { sent: "Odpověď odešla zákazníkovi e-mailem.", no_address: "Uloženo; zákazník nezadal e-mail.", no_smtp: "Uloženo; není nastavený SMTP server, e-mail neodešel." },
  reqOpened: "Otevřeno", reqLang: "Jazyk", reqSaved: "Uloženo.", reqEmail: "E-mail",
  triggers: "Pravidla akcí", triggersHelp: "Zprávy odeslané v klíčových chvílích; každé pravidlo má kontrolní skupinu, aby šel jeho účinek změřit.",
  selfservice: "Samoobsluha", ssHelp: "Pomáhá centrum nápovědy? Návštěvy nápovědy za délku zvoleného období do dneška a kdo potom přesto volal nebo psal do chatu.",
  ssScore: "Skóre samoobsluhy", ssScoreHelp: (a, b) => `${a} zákazníků si pomohlo samo, ${b} potřebovalo hovor nebo chat`,
  ssDeflection: "Odklon", ssDeflectionHelp: (d) => `návštěvy bez hovoru či chatu do ${d} dnů`, ssResolved: "… a vyřešeno", ssResolvedHelp: "totéž a článek pomohl",
  ssSuccess: "Úspěšnost hledání", ssSuccessHelp: "hledání, po kterém zákazník četl článek", ssNoResults: "Bez výsledků", ssCost: "Ušetřené náklady", ssCostHelp: (n, c) => `${n} odkloněných návštěv × ${c}`,
  ssFailed: "Neúspěšná hledání", ssFailedHelp: "Nic nenalezeno nebo nic nepřečteno: co v nápovědě chybí, od nejčastějšího.", ssQuery: "Dotaz", ssSearches: "Neúspěšných", ssNone: "Bez výsledků", ssThen: "Potom volali nebo psali",
  ssArticles: "Články", ssReads: "Přečtení", ssHelped: "Pomohlo", ssNoData: "V tomto období zatím žádné návštěvy nápovědy.",
  kbArticles: "Znalostní báze", kbNew: "Nový článek", kbEdit: "Upravit", kbTitle: "Název", kbBody: "Text (odstavce oddělené prázdným řádkem; řádky začínající - jsou seznam)", kbPublished: "Zveřejněno (zákazníci ho vidí)",
  kbSave: "Uložit", kbCancel: "Zrušit", kbSaved: (v) => `Uloženo jako verze ${v}.`, kbDraft: "koncept", kbVersion: "Verze", kbState: "Stav", kbOpen: "Otevřít v portálu", kbNone: "Zatím žádné články.",
  noTriggers: "Zatím žádná pravidla akcí. Vytvořte je tlačítkem Nové pravidlo (nebo přes API, /api/triggers), vyzkoušejte a zapněte.",
  prefsTitle: "Zprávy, které přijímá", prefsHelp: "Co mu smějí poslat pravidla akcí, podle tématu a kanálu, jak to řekl on nebo kolega (v portálu, odkazem pro odhlášení, přes API).", prefsSave: "Uložit volby", prefsSaved: "Uloženo.", prefTopic: "Téma",
  prefChannels: { email: "E-mail", webhook: "SMS a aplikace", in_page: "Na webu" },
  newRule: "Nové pravidlo", reName: "Název", reStarts: "Co ho spustí", reSends: "Co pošle", reKey: "Klíč (v API a v CLI)",
  whenKinds: { happens: "Nastane kontaktní bod", not_followed: "Po kontaktním bodu nenásleduje jiný", stage_entered: "Zákazník vstoupí do fáze", survey_score: "Přijde skóre z průzkumu", health_alert: "Kontaktní bod se vychýlí od obvyklého stavu" },
  reTouchpoint: "Kontaktní bod", reFollowedBy: "… a nenásleduje žádný z těchto (více vyberete s Ctrl)", reWithin: "Do (30m, 2h, 2d)", reStage: "Fáze", reSurvey: "Průzkum", reMin: "Nejnižší skóre", reMax: "Nejvyšší skóre",
  thenKinds: { email: "E-mail zákazníkovi", webhook: "Webhook do vašich systémů (SMS, aplikace)", team_alert: "Upozornění týmu", in_page: "Průzkum na stránce zákazníka" },
  reCategory: "Druh zprávy (platí volby zákazníka)", categories: { service: "Servisní", surveys: "Průzkumy", marketing: "Nabídky" },
  reLangHelp: "Napište zprávu v jazycích, ve kterých komunikujete (ostatní nechte prázdné): každý zákazník dostane svůj, jinak angličtinu, jinak první napsaný. Doplní se {{ first_name }} (jakákoli vlastnost), {{ event.carrier }} (vlastnosti události) a {{ survey_url }}.",
  reSubject: "Předmět", reText: "Text", reInvite: "Přiložit pozvánku do průzkumu", reNone: "Žádná", reUrl: "URL webhooku", reTeam: "E-mailová adresa týmu", reShow: "Zobrazit průzkum",
  reHoldout: "Kontrolní skupina (%)", reGoal: "Cíl (pro měření účinku)", reGoalWithin: "Cíl do", reQuiet: "Klidové hodiny v čase zákazníka (prázdné: žádné)", reCap: "Nejvýše tolik zpráv na zákazníka (prázdné: bez limitu)", reCapPer: "… za (1d, 7d)",
  reReentry: "Jak často jeden zákazník", reentries: { every_time: "Pokaždé", once: "Jen jednou", once_per: "Jednou za období" }, rePer: "Období (30d)",
  reJson: "Pravidlo jako JSON: vše, i pro koho je a podmínky na vlastnosti", reBadJson: (m) => `JSON není platný: ${m}`,
  reSave: "Uložit jako koncept", reSaveEdit: "Uložit změny", reSaved: "Uloženo. Vyzkoušejte ho a pak zapněte.", reSecret: (x) => `Tajný klíč k podpisu webhooku, zobrazený jen teď: ${x}`,
  tstatus: { draft: "Koncept", live: "Zapnuté", paused: "Pozastavené" }, whenLabel: "Kdy", thenLabel: "Co", holdoutLabel: "Kontrolní skupina",
  when: { happens: (k) => `nastane ${k}`, not_followed: (k, f, w) => `po ${k} nenásleduje ${f} do ${w}`, stage_entered: (s) => `zákazník vstoupí do fáze ${s}`, survey_score: (s) => `přijde hodnocení z průzkumu ${s}`, health_alert: (k) => `${k || "kterýkoli kontaktní bod"} se odchýlí od svého obvyklého stavu (objem nebo odchody)` },
  thenKind: { webhook: "webhook", email: "e-mail", team_alert: "upozornění týmu", in_page: "okno na stránce zákazníka" }, withSurvey: (s) => ` s průzkumem ${s}`,
  fstate: { delivered: "Odesláno", held_out: "Kontrolní skupina", waiting: "Čeká", pending: "K odeslání", suppressed: "Potlačeno", cancelled: "Zrušeno", dead: "Selhalo", ready: "Čeká na stránku" },
  whySuppressed: "Proč potlačeno",
  sreason: { consent: "zákazník nesouhlasí", cap: "nad limitem pravidla", channel_cap: "nad denním limitem všech pravidel", too_late: "příliš pozdě (víc než den)", no_email_address: "bez e-mailové adresy", unverified_email: "neověřená adresa (zadal ji jen veřejný zapisovací klíč)" },
  previewRule: "Vyzkoušet na posledních 30 dnech", report: "Účinek", pause: "Pozastavit", resume: "Zapnout",
  wouldHave: (n, m) => `Za posledních 30 dní by pravidlo zasáhlo ${n}krát u ${m} zákazníků.`,
  heldBack: (q, c, h) => `${q} podrženo kvůli nočnímu klidu, ${c} zastaveno limity, ${h} v kontrolní skupině.`,
  goalLabel: "Cíl", treatedLabel: "Dostali zprávu", heldOutLabel: "Kontrolní skupina", convertedOf: (x, n) => `${x} z ${n}`,
  differenceLabel: "Rozdíl", intervalLabel: "95% interval", pValue: "p-hodnota", movedLabel: "Získaní zákazníci",
  noUplift: (t, h, m) => `Zatím není co porovnat: odesláno ${t}, v kontrolní skupině ${h}, ${m} ještě v horizontu cíle.`,
  noGoal: "Pravidlo nemá cíl: doplňte ho (goal.touchpoint, goal.within), aby šel jeho účinek změřit.",
  significantUp: "Zpráva měla významný účinek.", notSignificant: "Zatím bez významného rozdílu.",
});
Object.assign(T.pl, {
  requests: "Zgłoszenia", reqHelp: "O co klienci pytali w portalu: odpowiedz (dostaną to e-mailem w swoim języku), przydziel i przesuwaj od nowego do zamkniętego.",
  reqAll: "Wszystkie", reqSubject: "Temat", reqStatus: "Status", reqCustomer: "Klient", reqAssignee: "Przydzielone", reqUpdated: "Ostatnia zmiana", reqNone: "Brak zgłoszeń.",
  rstatus: { new: "Nowe", open: "Otwarte", waiting: "Czeka na klienta", resolved: "Rozwiązane", closed: "Zamknięte" },
  reqReply: "Odpowiedź dla klienta", reqSend: "Zapisz", reqBack: "Wszystkie zgłoszenia", reqFromCustomer: "Klient", reqFromTeam: "Zespół", reqResolvedIn: (h) => `Rozwiązane w ${h} h`,
  reqAssigned: (a) => (a ? `Przydzielone: ${a}` : "Nieprzydzielone"), reqStatusTo: (s) => `Status: ${s}`, reqMailed: { sent: "Odpowiedź wysłano klientowi e-mailem.", no_address: "Zapisano; klient nie podał adresu e-mail.", no_smtp: "Zapisano; brak serwera SMTP, e-mail nie wyszedł." },
  reqOpened: "Otwarte", reqLang: "Język", reqSaved: "Zapisano.", reqEmail: "E-mail",
  triggers: "Reguły działań", triggersHelp: "Wiadomości wysyłane w kluczowych momentach; każda reguła ma grupę kontrolną, by dało się zmierzyć jej skutek.",
  selfservice: "Samoobsługa", ssHelp: "Czy centrum pomocy pomaga? Wizyty w centrum pomocy w okresie o wybranej długości do dziś i kto mimo to potem dzwonił lub pisał na czacie.",
  ssScore: "Wskaźnik samoobsługi", ssScoreHelp: (a, b) => `${a} klientów poradziło sobie samych, ${b} potrzebowało rozmowy lub czatu`,
  ssDeflection: "Odciążenie", ssDeflectionHelp: (d) => `wizyty bez rozmowy ani czatu w ciągu ${d} dni`, ssResolved: "… i rozwiązane", ssResolvedHelp: "to samo, a artykuł pomógł",
  ssSuccess: "Skuteczność wyszukiwania", ssSuccessHelp: "wyszukiwania, po których klient przeczytał artykuł", ssNoResults: "Bez wyników", ssCost: "Zaoszczędzone koszty", ssCostHelp: (n, c) => `${n} odciążonych wizyt × ${c}`,
  ssFailed: "Nieudane wyszukiwania", ssFailedHelp: "Nic nie znaleziono lub nic nie przeczytano: czego brakuje w centrum pomocy, od najczęstszego.", ssQuery: "Zapytanie", ssSearches: "Nieudanych", ssNone: "Bez wyników", ssThen: "Potem dzwonili lub pisali",
  ssArticles: "Artykuły", ssReads: "Odczyty", ssHelped: "Pomógł", ssNoData: "W tym okresie nie było jeszcze wizyt w centrum pomocy.",
  kbArticles: "Baza wiedzy", kbNew: "Nowy artykuł", kbEdit: "Edytuj", kbTitle: "Tytuł", kbBody: "Tekst (akapity oddzielone pustym wierszem; wiersze zaczynające się od - to lista)", kbPublished: "Opublikowany (klienci go widzą)",
  kbSave: "Zapisz", kbCancel: "Anuluj", kbSaved: (v) => `Zapisano jako wersję ${v}.`, kbDraft: "szkic", kbVersion: "Wersja", kbState: "Stan", kbOpen: "Otwórz w portalu", kbNone: "Brak artykułów.",
  noTriggers: "Brak reguł działań. Utwórz regułę przyciskiem Nowa reguła (lub przez API, /api/triggers), wypróbuj ją i włącz.",
  prefsTitle: "Wiadomości, które przyjmuje", prefsHelp: "Co mogą mu wysłać reguły działań, według tematu i kanału, jak powiedział on lub kolega (w portalu, linkiem wypisania, przez API).", prefsSave: "Zapisz wybory", prefsSaved: "Zapisano.", prefTopic: "Temat",
  prefChannels: { email: "E-mail", webhook: "SMS i aplikacja", in_page: "Na stronie" },
  newRule: "Nowa reguła", reName: "Nazwa", reStarts: "Co ją uruchamia", reSends: "Co wyśle", reKey: "Klucz (w API i w CLI)",
  whenKinds: { happens: "Wystąpi punkt styku", not_followed: "Po punkcie styku nie nastąpi inny", stage_entered: "Klient wejdzie w etap", survey_score: "Przyjdzie wynik ankiety", health_alert: "Punkt styku odbiega od swojej normy" },
  reTouchpoint: "Punkt styku", reFollowedBy: "… i nie nastąpi żaden z tych (kilka wybierzesz z Ctrl)", reWithin: "W ciągu (30m, 2h, 2d)", reStage: "Etap", reSurvey: "Ankieta", reMin: "Najniższy wynik", reMax: "Najwyższy wynik",
  thenKinds: { email: "E-mail do klienta", webhook: "Webhook do Twoich systemów (SMS, aplikacje)", team_alert: "Powiadomienie zespołu", in_page: "Ankieta na stronie klienta" },
  reCategory: "Rodzaj wiadomości (obowiązują wybory klienta)", categories: { service: "Obsługa", surveys: "Ankiety", marketing: "Oferty" },
  reLangHelp: "Napisz wiadomość w językach, w których się komunikujesz (pozostałe zostaw puste): każdy klient dostanie swój, inaczej angielski, inaczej pierwszy napisany. Uzupełniane są {{ first_name }} (dowolna cecha), {{ event.carrier }} (właściwości zdarzenia) i {{ survey_url }}.",
  reSubject: "Temat", reText: "Treść", reInvite: "Dołącz zaproszenie do ankiety", reNone: "Brak", reUrl: "URL webhooka", reTeam: "Adres e-mail zespołu", reShow: "Pokaż ankietę",
  reHoldout: "Grupa kontrolna (%)", reGoal: "Cel (do pomiaru efektu)", reGoalWithin: "Cel w ciągu", reQuiet: "Godziny ciszy w czasie klienta (puste: brak)", reCap: "Najwyżej tyle wiadomości na klienta (puste: bez limitu)", reCapPer: "… na (1d, 7d)",
  reReentry: "Jak często jeden klient", reentries: { every_time: "Za każdym razem", once: "Tylko raz", once_per: "Raz na okres" }, rePer: "Okres (30d)",
  reJson: "Reguła jako JSON: wszystko, także dla kogo jest i warunki na właściwości", reBadJson: (m) => `JSON jest nieprawidłowy: ${m}`,
  reSave: "Zapisz jako szkic", reSaveEdit: "Zapisz zmiany", reSaved: "Zapisano. Wypróbuj ją, a potem włącz.", reSecret: (x) => `Sekret podpisu webhooka, pokazany tylko teraz: ${x}`,
  tstatus: { draft: "Szkic", live: "Włączona", paused: "Wstrzymana" }, whenLabel: "Kiedy", thenLabel: "Co", holdoutLabel: "Grupa kontrolna",
  when: { happens: (k) => `następuje ${k}`, not_followed: (k, f, w) => `po ${k} nie następuje ${f} w ciągu ${w}`, stage_entered: (s) => `klient wchodzi w etap ${s}`, survey_score: (s) => `przychodzi ocena z ankiety ${s}`, health_alert: (k) => `${k || "dowolny punkt styku"} odbiega od swojej normy (liczba zdarzeń lub odejścia)` },
  thenKind: { webhook: "webhook", email: "e-mail", team_alert: "powiadomienie zespołu", in_page: "okno na stronie klienta" }, withSurvey: (s) => ` z ankietą ${s}`,
  fstate: { delivered: "Wysłane", held_out: "Grupa kontrolna", waiting: "Czeka", pending: "Do wysłania", suppressed: "Wstrzymane", cancelled: "Anulowane", dead: "Nieudane", ready: "Czeka na stronę" },
  whySuppressed: "Dlaczego wstrzymane",
  sreason: { consent: "klient się nie zgodził", cap: "ponad limit reguły", channel_cap: "ponad dzienny limit wszystkich reguł", too_late: "za późno (ponad dzień)", no_email_address: "brak adresu e-mail", unverified_email: "adres niezweryfikowany (podał go tylko publiczny klucz zapisu)" },
  previewRule: "Wypróbuj na ostatnich 30 dniach", report: "Skutek", pause: "Wstrzymaj", resume: "Włącz",
  wouldHave: (n, m) => `W ostatnich 30 dniach reguła zadziałałaby ${n} razy dla ${m} klientów.`,
  heldBack: (q, c, h) => `${q} wstrzymane przez ciszę nocną, ${c} zatrzymane przez limity, ${h} w grupie kontrolnej.`,
  goalLabel: "Cel", treatedLabel: "Dostali wiadomość", heldOutLabel: "Grupa kontrolna", convertedOf: (x, n) => `${x} z ${n}`,
  differenceLabel: "Różnica", intervalLabel: "Przedział 95%", pValue: "wartość p", movedLabel: "Pozyskani klienci",
  noUplift: (t, h, m) => `Jeszcze nie ma czego porównać: wysłane ${t}, w grupie kontrolnej ${h}, ${m} jeszcze w horyzoncie celu.`,
  noGoal: "Reguła nie ma celu: dodaj go (goal.touchpoint, goal.within), by zmierzyć jej skutek.",
  significantUp: "Wiadomość miała istotny skutek.", notSignificant: "Na razie bez istotnej różnicy.",
});
const CHANNELS = ["web", "app", "email", "ads", "search", "social", "review", "forum", "blog", "phone", "store", "chat", "self-service", "survey", "other"];
const LANGS = { en: "English", cs: "Čeština", pl: "Polski" };
const VIEWS = ["overview", "journey", "funnel", "paths", "retention", "churn", "attribution", "listening", "customers", "catalog", "surveys", "triggers", "selfservice", "requests", "health"];
// Views reached from elsewhere than the list of views.
const OTHER_VIEWS = ["account"];
const RANGES = [7, 30, 90, 180, 365];
// Ninety days by default: a quarter, long enough for the journey map's exits and pain points
// to be significant (churn reads the horizon before the period too, whatever its length).
const DEFAULT_RANGE = 90;
const COLOURS = ["#0b5cad", "#d9480f", "#2b8a3e", "#862e9c", "#c92a2a", "#1098ad", "#5c940d", "#e67700", "#495057"];

// ---- State in the address -------------------------------------------------------------
function readState() {
  const h = new URLSearchParams(location.hash.slice(1));
  const saved = localStorage.getItem("tp.lang");
  const lang = [h.get("lang"), saved, boot.lang].find((l) => l && T[l]) || "en";
  const projects = boot.projects.map((p) => String(p.id));
  const project = projects.includes(h.get("project")) ? h.get("project") : projects[0];
  const view = [...VIEWS, ...OTHER_VIEWS].includes(h.get("view")) ? h.get("view") : "overview";
  // A period of its own: two days (UTC), the first not after the second, at most ten years.
  const iso = (d) => (/^\d{4}-\d{2}-\d{2}$/.test(d || "") && !Number.isNaN(Date.parse(d + "T00:00:00Z")) ? d : null);
  const [from, to] = [iso(h.get("from")), iso(h.get("to"))];
  const custom = h.get("range") === "custom" && from && to && from <= to && Date.parse(to) - Date.parse(from) <= 3660 * 864e5;
  const range = custom ? "custom" : RANGES.includes(Number(h.get("range"))) ? Number(h.get("range")) : DEFAULT_RANGE;
  // The analyses' filters: events of one channel, customers who first came through one,
  // customers with a trait (`country=CZ`).
  const ch = CHANNELS.includes(h.get("ch")) ? h.get("ch") : "", ftc = CHANNELS.includes(h.get("ftc")) ? h.get("ftc") : "";
  const trait = /^[A-Za-z0-9_.-]{1,64}=.{1,200}$/.test(h.get("trait") || "") ? h.get("trait") : "";
  return { lang, project, view, range, from: custom ? from : null, to: custom ? to : null, compare: h.get("compare") === "1", ch, ftc, trait };
}
let state = readState();
const t = (k, ...a) => { const v = T[state.lang][k] ?? T.en[k] ?? k; return typeof v === "function" ? v(...a) : v; };

function go(change) {
  state = { ...state, ...change };
  const h = new URLSearchParams({ project: state.project ?? "", view: state.view, range: state.range, compare: state.compare ? "1" : "0", lang: state.lang });
  if (state.range === "custom") { h.set("from", state.from); h.set("to", state.to); }
  for (const k of ["ch", "ftc", "trait"]) if (state[k]) h.set(k, state[k]);
  const old = new URLSearchParams(location.hash.slice(1));
  const own = { listening: ["survey", "metric"], funnel: ["steps", "window", "strict", "by", "dropped"], customers: ["customer", "q"], requests: ["request", "status"], paths: ["dir", "at", "steps"], retention: ["cohort", "returning"], attribution: ["goal", "by"], surveys: ["edit"] }[state.view] || [];
  for (const k of own) if (old.get(k)) h.set(k, old.get(k));
  if ("#" + h.toString() !== location.hash) location.hash = h.toString(); else render();
}
window.addEventListener("hashchange", () => { state = readState(); render(); });

// The views whose analyses take the filters, and the filter of a plan for a period.
const FILTER_VIEWS = ["journey", "funnel", "paths", "retention", "churn", "attribution"];
function planFilter(now) {
  const f = now ? { from: now.fromS, to: now.toS } : {};
  if (state.ch) f.channels = [state.ch];
  if (state.ftc) f.first_touch_channels = [state.ftc];
  if (state.trait) { const i = state.trait.indexOf("="); f.traits = { [state.trait.slice(0, i).trim()]: state.trait.slice(i + 1).trim() }; }
  return f;
}

// A journey map's churn over a period that began less than one churn horizon ago is only
// the churn touchpoints (the server says so in `clock.silence_seen`). Said so.
function silenceNote(map) {
  const report = map?.groups?.[0]?.report;
  if (!report || map.clock?.silence_seen !== "none") return "";
  return `<p class="muted silence-note">${esc(t("silenceNote", fmt(report.churn_horizon_s / 86400)))}</p>`;
}

// A value against the previous period's: the change as `show` writes it, coloured by
// whether it is good (`higherIsBetter`: conversion yes, churn no), the previous value as
// `said` writes it; nothing without both.
function changeLine(x, was, show, said, higherIsBetter = true, id = "") {
  if (x == null || was == null) return "";
  const d = x - was, good = higherIsBetter ? d >= 0 : d <= 0;
  return `<p class="delta ${good ? "up" : "down"}"${id ? ` id="${id}"` : ""}>${d >= 0 ? "▲" : "▼"} ${show(Math.abs(d))} <span class="muted">${esc(t("vsPrevious"))} (${said(was)})</span></p>`;
}
// A rate against the previous period's, in percentage points.
const rateChange = (x, was, higherIsBetter = true) => changeLine(x, was, (d) => `${fmt(100 * d, 1)} ${esc(t("points"))}`, pct, higherIsBetter);

// ---- Talking to the API -----------------------------------------------------------------
async function api(path, body) {
  const r = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "X-Touchpoint-Project": state.project, "X-CSRF-Token": boot.csrf, ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (r.status === 401) { location.href = "/login?next=" + encodeURIComponent("/" + location.hash); throw new Error("signed out"); }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error?.message || r.statusText);
  return data;
}

// ---- Small helpers ----------------------------------------------------------------------
// Charts are drawn at the width they are shown at, so their text stays readable on a phone.
const chartWidth = () => Math.max(300, Math.min(1200, (document.getElementById("view")?.clientWidth || 960) - 66));
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (n, d = 0) => (n == null || Number.isNaN(n) ? "–" : Number(n).toLocaleString(state.lang, { maximumFractionDigits: d, minimumFractionDigits: d }));
const pct = (x, d = 1) => (x == null ? "–" : fmt(100 * x, d) + " %");
const day = (d) => d.toISOString().slice(0, 10);
// Days in the period shown.
const rangeDays = () => (state.range === "custom" ? Math.round((Date.parse(state.to) - Date.parse(state.from)) / 864e5) + 1 : state.range);
// The period shown (`back` = 1: the one before it, as long), as days and as seconds.
function period(range, back = 0) {
  const n = rangeDays();
  const to = range === "custom" ? new Date(state.to + "T00:00:00Z") : new Date();
  to.setUTCHours(0, 0, 0, 0); to.setUTCDate(to.getUTCDate() - back * n);
  const from = new Date(to); from.setUTCDate(from.getUTCDate() - (n - 1));
  return { from: day(from), to: day(to), fromS: from.getTime() / 1000, toS: to.getTime() / 1000 + 86400 };
}
function download(name, text, type = "text/csv;charset=utf-8") {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type })); a.download = name; a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}
const csvCell = (v) => { const s = String(v ?? ""); return /^[=+\-@\t\r]/.test(s) ? "'" + s : /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
function tableCsv(table) {
  return [...table.rows].map((r) => [...r.cells].map((c) => csvCell(c.dataset.v ?? c.textContent.trim())).join(",")).join("\n") + "\n";
}
function svgPng(svg, name) {
  const xml = new XMLSerializer().serializeToString(svg);
  const img = new Image();
  const box = svg.viewBox.baseVal;
  img.onload = () => {
    const c = document.createElement("canvas"); c.width = box.width * 2; c.height = box.height * 2;
    const g = c.getContext("2d"); g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height); g.drawImage(img, 0, 0, c.width, c.height);
    c.toBlob((b) => { const a = document.createElement("a"); a.href = URL.createObjectURL(b); a.download = name; a.click(); });
  };
  img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(xml);
}

// ---- The header -------------------------------------------------------------------------
// Folded on a phone when the page opens; then as the person leaves them.
let drawnHeader = "", openSettings = window.innerWidth > 640;
// The settings in one line: the period, and how many filters hold.
function settingsSummary() {
  const p = period(state.range), n = FILTER_VIEWS.includes(state.view) ? ["ch", "ftc", "trait"].filter((k) => state[k]).length : 0;
  return `${t("period")}: ${p.from} – ${p.to}${state.compare ? " · " + t("compare") : ""}${n ? " · " + t("filtersOn", n) : ""} · ${LANGS[state.lang]}`;
}
function header() {
  const el = document.getElementById("top");
  document.documentElement.lang = state.lang;
  const projects = boot.projects.map((p) => `<option value="${p.id}"${String(p.id) === state.project ? " selected" : ""}>${esc(p.name)}</option>`).join("");
  // Drawn again only when it changes, so a redraw of the view (a resize, a reload of the
  // data) never replaces a control someone is about to use.
  const html = `<div class="bar">
    <span class="brand">Touchpoint</span>
    <nav class="views" aria-label="Views">${VIEWS.map((v) => `<a href="#" data-view="${v}"${v === state.view ? ' aria-current="page"' : ""}>${esc(t({ churn: "churnView", customers: "customersView" }[v] || v))}</a>`).join("")}</nav>
    <div class="who"><a href="#" data-view="account"${state.view === "account" ? ' aria-current="page"' : ""} title="${esc(t("account"))}">${esc(boot.user.email)}</a>
      <form method="post" action="/logout"><input type="hidden" name="csrf" value="${esc(boot.csrf)}"><button class="quiet" type="submit">${esc(t("signout"))}</button></form></div>
  </div>
  <details class="settings"${openSettings ? " open" : ""}><summary class="bar">${esc(settingsSummary())}</summary><div class="bar controls">
    <div class="field"><label for="project">${esc(t("project"))}</label><select id="project">${projects}</select></div>
    <div class="field"><label for="range">${esc(t("period"))}</label><select id="range">${RANGES.map((r) => `<option value="${r}"${r === state.range ? " selected" : ""}>${esc(t("days", r))}</option>`).join("")}<option value="custom"${state.range === "custom" ? " selected" : ""}>${esc(t("customRange"))}</option></select></div>
    ${state.range === "custom" ? `<div class="field"><label for="from">${esc(t("dateFrom"))}</label><input type="date" id="from" value="${esc(state.from)}" max="${esc(state.to)}"></div>
      <div class="field"><label for="to">${esc(t("dateTo"))}</label><input type="date" id="to" value="${esc(state.to)}" min="${esc(state.from)}"></div>` : ""}
    <div class="field check"><input type="checkbox" id="compare"${state.compare ? " checked" : ""}><label for="compare">${esc(t("compare"))}</label></div>
    ${FILTER_VIEWS.includes(state.view) ? `<div class="field"><label for="f-ch">${esc(t("fChannel"))}</label><select id="f-ch"><option value="">${esc(t("allChannels"))}</option>${CHANNELS.map((c) => `<option value="${c}"${c === state.ch ? " selected" : ""}>${c}</option>`).join("")}</select></div>
      <div class="field"><label for="f-ftc">${esc(t("fFirst"))}</label><select id="f-ftc"><option value="">${esc(t("allChannels"))}</option>${CHANNELS.map((c) => `<option value="${c}"${c === state.ftc ? " selected" : ""}>${c}</option>`).join("")}</select></div>
      <div class="field"><label for="f-trait">${esc(t("fTrait"))}</label><input type="text" id="f-trait" value="${esc(state.trait)}" placeholder="country=CZ" size="14"></div>` : ""}
    <div class="field"><label for="lang">${esc(t("language"))}</label><select id="lang">${Object.entries(LANGS).map(([k, v]) => `<option value="${k}" lang="${k}"${k === state.lang ? " selected" : ""}>${v}</option>`).join("")}</select></div>
  </div></details>`;
  if (html === drawnHeader) return;
  drawnHeader = html;
  el.innerHTML = html;
  // On a phone the settings fold away under a one-line summary; opened, they stay open.
  el.querySelector("details.settings").addEventListener("toggle", (e) => { openSettings = e.target.open; });
  el.querySelectorAll("[data-view]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); go({ view: a.dataset.view }); }));
  el.querySelector("#project").addEventListener("change", (e) => go({ project: e.target.value }));
  el.querySelector("#range").addEventListener("change", (e) => {
    if (e.target.value !== "custom") return go({ range: Number(e.target.value), from: null, to: null });
    const p = period(state.range);
    go({ range: "custom", from: p.from, to: p.to });
  });
  for (const id of ["from", "to"]) {
    el.querySelector("#" + id)?.addEventListener("change", (e) => {
      const v = e.target.value, other = id === "from" ? state.to : state.from;
      if (!v || (id === "from" ? v > other : v < other)) return;
      go({ [id]: v });
    });
  }
  el.querySelector("#compare").addEventListener("change", (e) => go({ compare: e.target.checked }));
  el.querySelector("#f-ch")?.addEventListener("change", (e) => go({ ch: e.target.value }));
  el.querySelector("#f-ftc")?.addEventListener("change", (e) => go({ ftc: e.target.value }));
  el.querySelector("#f-trait")?.addEventListener("change", (e) => { const v = e.target.value.trim(); if (!v || /^[A-Za-z0-9_.-]{1,64}=.{1,200}$/.test(v)) go({ trait: v }); else e.target.setAttribute("aria-invalid", "true"); });
  el.querySelector("#lang").addEventListener("change", (e) => {
    localStorage.setItem("tp.lang", e.target.value);
    document.cookie = `tp_lang=${e.target.value}; Path=/; Max-Age=31536000; SameSite=Lax`;
    go({ lang: e.target.value });
  });
}

// ---- Overview ---------------------------------------------------------------------------
async function overview(main) {
  const now = period(state.range), prev = period(state.range, 1);
  const answered = { from: new Date(now.fromS * 1000).toISOString(), to: new Date(now.toS * 1000).toISOString() };
  const [rows, tps, before, map, project, churned, surveyList] = await Promise.all([
    api(`/api/volume?from=${now.from}&to=${now.to}&lang=${state.lang}`),
    api(`/api/touchpoints?lang=${state.lang}`),
    state.compare ? api(`/api/volume?from=${prev.from}&to=${prev.to}&lang=${state.lang}`) : Promise.resolve(null),
    api("/api/analytics/journey-map", { filter: { from: now.fromS, to: now.toS }, query: {} }),
    api("/api/project"),
    api("/api/analytics/churn", { filter: { from: now.fromS, to: now.toS }, query: {} }).catch(() => null),
    api("/api/surveys"),
  ]);
  // The satisfaction trend: the first survey taking answers, NPS if it asks it, else CSAT.
  const taking = surveyList.filter((x) => x.status !== "draft");
  const sat = taking.find((x) => (x.definition?.questions || []).some((q) => q.type === "nps")) || taking.find((x) => (x.definition?.questions || []).some((q) => q.type === "csat"));
  const satMetric = sat && (sat.definition.questions.some((q) => q.type === "nps") ? "nps" : "csat");
  const trend = sat ? await api(`/api/listening/${satMetric}`, { survey: sat.key, ...answered, by: "week" }).catch(() => null) : null;
  const stageName = Object.fromEntries((project.stages || []).map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const channelOf = Object.fromEntries(tps.map((x) => [x.key, x.channel]));
  const days = []; for (let d = new Date(now.from + "T00:00:00Z"); day(d) <= now.to; d.setUTCDate(d.getUTCDate() + 1)) days.push(day(d));
  const byDay = {}, channels = {};
  let total = 0, touch = 0;
  for (const r of rows) {
    const ch = r.touchpoint ? channelOf[r.touchpoint] || "other" : null;
    total += r.events;
    if (!ch) continue;
    touch += r.events;
    (byDay[r.day] ??= {})[ch] = (byDay[r.day]?.[ch] || 0) + r.events;
    channels[ch] = (channels[ch] || 0) + r.events;
  }
  const order = Object.keys(channels).sort((a, b) => channels[b] - channels[a]);
  const colour = (ch) => COLOURS[Math.min(order.indexOf(ch), COLOURS.length - 1)];
  // Conversions: events of the catalog's goal touchpoints.
  const goals = new Set(tps.filter((x) => x.conversion).map((x) => x.key));
  const conversions = rows.filter((r) => goals.has(r.touchpoint)).reduce((a, r) => a + r.events, 0);
  const prevConversions = before ? before.filter((r) => goals.has(r.touchpoint)).reduce((a, r) => a + r.events, 0) : null;
  // A count against the previous period's, as a share of it.
  const change = (x, was) => (was == null ? "" : !was ? `<p class="muted">${esc(t("noPrevious"))}</p>` : changeLine(x, was, (d) => pct(d / was), fmt));
  const prevTotal = before ? before.reduce((s, r) => s + r.events, 0) : null;
  const deltaText = change(total, prevTotal);

  // The stacked bars, drawn as SVG.
  const W = chartWidth(), H = Math.round(Math.min(260, W * 0.45)), pad = 56, bw = (W - pad) / Math.max(days.length, 1);
  const max = Math.max(1, ...days.map((d) => Object.values(byDay[d] || {}).reduce((a, b) => a + b, 0)));
  let bars = "";
  days.forEach((d, i) => {
    let y = H - 20;
    for (const ch of order) {
      const v = byDay[d]?.[ch] || 0; if (!v) continue;
      const h = ((H - 40) * v) / max; y -= h;
      bars += `<rect x="${(pad + i * bw + bw * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw * 0.8).toFixed(1)}" height="${h.toFixed(1)}" fill="${colour(ch)}"><title>${d} · ${esc(ch)}: ${fmt(v)}</title></rect>`;
    }
  });
  const ticks = [0, 0.5, 1].map((f) => `<text x="${pad - 4}" y="${(H - 20 - (H - 40) * f + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#4d4d4d">${fmt(max * f)}</text>`).join("");
  const labels = [days[0], days[days.length - 1]].map((d, i) => `<text x="${i ? W : pad}" y="${H - 4}" text-anchor="${i ? "end" : "start"}" font-size="11" fill="#4d4d4d">${d}</text>`).join("");
  const svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("chartLabel", fmt(touch), days.length))}" xmlns="http://www.w3.org/2000/svg"><line x1="${pad}" x2="${W}" y1="${H - 20}" y2="${H - 20}" stroke="#8a8a8a"/>${ticks}${bars}${labels}</svg>`;
  const legend = order.map((ch) => `<li><i data-bg="${colour(ch)}"></i>${esc(ch)} <span class="muted">${fmt(channels[ch])}</span></li>`).join("");
  const table = `<table id="volume-table"><caption>${esc(t("perDay"))}</caption><thead><tr><th>${esc(t("day"))}</th>${order.map((c) => `<th class="n">${esc(c)}</th>`).join("")}<th class="n">${esc(t("total"))}</th></tr></thead><tbody>${days.map((d) => {
    const v = byDay[d] || {}; const s = Object.values(v).reduce((a, b) => a + b, 0);
    return `<tr><td>${d}</td>${order.map((c) => `<td class="n" data-v="${v[c] || 0}">${fmt(v[c] || 0)}</td>`).join("")}<td class="n" data-v="${s}">${fmt(s)}</td></tr>`;
  }).join("")}</tbody></table>`;

  const report = map.groups?.[0]?.report;
  const pains = (report?.pain_points || []).slice(0, 5);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const painRows = pains.map((p) => {
    const why = [p.churn?.adverse ? t("moreChurn") : null, p.conversion?.adverse ? t("lessConversion") : null].filter(Boolean).join(", ");
    const q = Math.min(p.churn?.q ?? 1, p.conversion?.q ?? 1);
    return `<tr><td>${esc(name[p.touchpoint] || p.touchpoint)}</td><td>${esc(stageName[p.stage] || p.stage)}</td><td class="n" data-v="${p.reach}">${fmt(p.reach)}</td><td class="n" data-v="${p.customers_lost}">${fmt(p.customers_lost, 1)}</td><td>${esc(why)}</td><td class="n" data-v="${q}">${q < 0.001 ? "&lt; " + fmt(0.001, 3) : fmt(q, 3)}</td></tr>`;
  }).join("");

  main.innerHTML = `<h1>${esc(t("overview"))}</h1>
  <div class="grid">
    <section class="panel" aria-labelledby="k1"><h2 id="k1">${esc(t("events"))}</h2><p class="kpi" id="total-events" data-v="${total}">${fmt(total)}</p>${deltaText}<p class="muted live-note" id="live-note" aria-live="off"></p>
      <p class="muted">${esc(t("touchpointEvents"))}: <span id="touchpoint-events">${fmt(touch)}</span> · ${now.from} – ${now.to}</p></section>
    <section class="panel" aria-labelledby="k2"><h2 id="k2">${esc(t("customers"))}</h2><p class="kpi">${fmt(map.groups?.[0]?.customers ?? 0)}</p>
      <p class="muted">${esc(t("customersNote"))} · ${now.from} – ${now.to}</p></section>
    ${goals.size ? `<section class="panel" aria-labelledby="k3"><h2 id="k3">${esc(t("conversions"))}</h2><p class="kpi" id="conversions-kpi" data-v="${conversions}">${fmt(conversions)}</p>${change(conversions, prevConversions)}
      <p class="muted">${esc([...goals].map((k) => name[k] || k).join(", "))}</p></section>` : ""}
  </div>
  ${trendChart(trend?.result?.segments, satMetric || "nps") ? `<section class="panel chart" aria-labelledby="k4"><h2 id="k4">${esc(t("satTrend", satMetric.toUpperCase()))} <span class="muted">${esc(sat.definition?.title?.[state.lang] || sat.key)}</span></h2>
    <p class="muted">${esc(t("trendHelp"))}</p>${trendChart(trend.result.segments, satMetric)}<div class="tools"><a href="#project=${esc(state.project)}&view=listening&survey=${esc(sat.key)}&metric=${satMetric}&lang=${state.lang}">${esc(t("openListening"))}</a></div></section>` : ""}
  <section class="panel chart" aria-labelledby="c1"><h2 id="c1">${esc(t("perDay"))}</h2>
    ${total ? svg + `<ul class="legend">${legend}</ul>` : `<p>${esc(t("noData"))}</p>`}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll">${table}</div></details>
    <div class="tools"><button class="quiet" id="csv-volume" type="button">${esc(t("csv"))}</button>${total ? `<button class="quiet" id="png-volume" type="button">${esc(t("png"))}</button>` : ""}</div>
  </section>
  <section class="panel" aria-labelledby="p1"><h2 id="p1">${esc(t("painPoints"))}</h2>${silenceNote(map)}
    ${pains.length ? `<div class="scroll"><table id="pain-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th>${esc(t("stage"))}</th><th class="n">${esc(t("reach"))}</th><th class="n">${esc(t("lost"))}</th><th>${esc(t("why"))}</th><th class="n">${esc(t("significance"))}</th></tr></thead><tbody>${painRows}</tbody></table></div>` : `<p>${esc(t("noPain"))}</p>`}
    <div class="tools"><a href="#" id="to-journey">${esc(t("openJourney"))}</a></div>
  </section>
  ${(churned?.groups?.[0]?.report?.drivers || []).filter((d) => d.driver).length ? `<section class="panel" aria-labelledby="p2"><h2 id="p2">${esc(t("drivers"))}</h2><div class="scroll"><table id="overview-drivers"><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("amongChurned"))}</th><th class="n">${esc(t("amongStayed"))}</th><th class="n">${esc(t("lift"))}</th></tr></thead><tbody>
    ${churned.groups[0].report.drivers.filter((d) => d.driver).slice(0, 5).map((d) => `<tr><td>${esc(name[d.touchpoint] || d.touchpoint)}</td><td class="n">${pct(d.churned_share)}</td><td class="n">${pct(d.stayed_share)}</td><td class="n">${d.lift == null ? "–" : fmt(d.lift, 1) + "×"}</td></tr>`).join("")}</tbody></table></div>
    <div class="tools"><a href="#project=${esc(state.project)}&view=churn&lang=${state.lang}">${esc(t("openChurn"))}</a></div></section>` : ""}`;
  main.querySelector("#csv-volume").addEventListener("click", () => download(`volume-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#volume-table"))));
  main.querySelector("#png-volume")?.addEventListener("click", () => svgPng(main.querySelector(".chart svg"), `volume-${now.from}-${now.to}.png`));
  main.querySelector("#to-journey").addEventListener("click", (e) => { e.preventDefault(); go({ view: "journey" }); });
  // What arrives now is added to the count as it is acknowledged, when today is in the period.
  if (now.to >= day(new Date())) live((tick) => {
    const k = document.getElementById("total-events"), note = document.getElementById("live-note");
    if (!k || !tick.events) return;
    k.dataset.v = Number(k.dataset.v) + tick.events; k.textContent = fmt(Number(k.dataset.v));
    note.textContent = `${fmt(tick.events)} ${t("perSecond")}`;
  });
}

// ---- Journey map ------------------------------------------------------------------------
async function journey(main) {
  const now = period(state.range);
  const [map, tps, project, before] = await Promise.all([
    api("/api/analytics/journey-map", { filter: planFilter(now), query: {} }),
    api(`/api/touchpoints?lang=${state.lang}`),
    api("/api/project"),
    state.compare ? api("/api/analytics/journey-map", { filter: planFilter(period(state.range, 1)), query: {} }) : Promise.resolve(null),
  ]);
  // Each stage's conversion beside the previous period's.
  const wasStage = Object.fromEntries((before?.groups?.[0]?.report?.stages || []).map((s) => [s.key, s]));
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const stageName = Object.fromEntries((project.stages || []).map((s) => [s.key, s.names?.[state.lang] || s.key]));
  stageName.unclassified ??= t("unclassified");
  const report = map.groups?.[0]?.report || { stages: [], pain_points: [] };
  const painful = new Set((report.pain_points || []).map((p) => p.touchpoint));
  const maxReach = Math.max(1, ...report.stages.flatMap((s) => s.touchpoints.map((x) => x.reach)));
  const stat = (label, value) => `<div><dt>${esc(label)}</dt><dd>${value}</dd></div>`;
  const stages = report.stages.map((s) => `<section class="panel stage" aria-labelledby="st-${esc(s.key)}">
    <h2 id="st-${esc(s.key)}"><span>${esc(stageName[s.key] || s.key)}</span><span class="muted" title="${esc(t("customers"))}">${fmt(s.customers)}</span></h2>
    ${before ? `<p class="muted">${esc(t("conversion"))}: ${pct(s.conversion_rate)}</p>${rateChange(s.conversion_rate, wasStage[s.key]?.conversion_rate)}` : ""}
    ${s.touchpoints.length ? `<ul class="tps">${s.touchpoints.map((x) => `<li>
      <p class="tp">${painful.has(x.key) ? `<span class="pain" role="img" aria-label="${esc(t("painPoint"))}">⚠</span> ` : ""}${esc(name[x.key] || x.key)}</p>
      <div class="meter" aria-hidden="true"><span data-w="${((100 * x.reach) / maxReach).toFixed(1)}"></span></div>
      <dl class="stats">${stat(t("reach"), fmt(x.reach))}${stat(t("exitRate"), pct(x.exit_rate))}${stat(t("conversion"), pct(x.conversion_rate))}${stat(t("churn"), pct(x.churn_rate))}</dl>
    </li>`).join("")}</ul>` : `<p class="muted">${esc(t("emptyStage"))}</p>`}</section>`).join("");
  const rows = report.stages.flatMap((s) => s.touchpoints.map((x) => `<tr><td>${esc(stageName[s.key] || s.key)}</td><td>${esc(name[x.key] || x.key)}</td>
    <td class="n" data-v="${x.reach}">${fmt(x.reach)}</td><td class="n" data-v="${x.exit_rate}">${pct(x.exit_rate)}</td>
    <td class="n" data-v="${x.conversion_rate ?? ""}">${pct(x.conversion_rate)}</td><td class="n" data-v="${x.churn_rate ?? ""}">${pct(x.churn_rate)}</td></tr>`)).join("");
  main.innerHTML = `<h1>${esc(t("journey"))}</h1><p class="muted">${now.from} – ${now.to} · ${esc(t("customers"))}: ${fmt(map.groups?.[0]?.customers ?? 0)}</p>
    ${silenceNote(map)}
    ${report.stages.length ? `<div class="stages">${stages}</div>` : `<p class="panel">${esc(t("noData"))}</p>`}
    <section class="panel"><details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="journey-table">
      <thead><tr><th>${esc(t("stage"))}</th><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("reach"))}</th><th class="n">${esc(t("exitRate"))}</th><th class="n">${esc(t("conversion"))}</th><th class="n">${esc(t("churn"))}</th></tr></thead>
      <tbody>${rows}</tbody></table></div></details>
      <div class="tools"><button class="quiet" id="csv-journey" type="button">${esc(t("csv"))}</button></div></section>`;
  main.querySelector("#csv-journey").addEventListener("click", () => download(`journey-map-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#journey-table"))));
}

// ---- Funnel builder ---------------------------------------------------------------------
const WINDOWS = [[3600, "1 h"], [86400, "1 d"], [7 * 86400, "7 d"], [14 * 86400, "14 d"], [30 * 86400, "30 d"]];
function hashParam(k) { return new URLSearchParams(location.hash.slice(1)).get(k); }
function setParams(change) {
  const p = new URLSearchParams(location.hash.slice(1));
  for (const [k, v] of Object.entries(change)) v == null || v === "" ? p.delete(k) : p.set(k, v);
  location.hash = p;
}
async function funnel(main) {
  const now = period(state.range);
  const tps = await api(`/api/touchpoints?lang=${state.lang}`);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const keys = tps.map((x) => x.key);
  const preferred = ["product-page", "cart", "checkout", "order-completed"].filter((k) => keys.includes(k));
  let steps = (hashParam("steps") || "").split(",").filter((k) => keys.includes(k));
  if (!steps.length) steps = preferred.length >= 2 ? preferred : keys.slice(0, 3);
  const win = Number(hashParam("window")) || 7 * 86400;
  const strict = hashParam("strict") === "1";
  const by = ["first_touch_channel", "first_touch_stage"].includes(hashParam("by")) ? hashParam("by") : "";
  const dropped = Number(hashParam("dropped")) || null;
  const stepOptions = (value) => tps.map((x) => `<option value="${esc(x.key)}"${x.key === value ? " selected" : ""}>${esc(name[x.key])}</option>`).join("");
  const controls = `<form class="controls" id="funnel-form">
    ${steps.map((k, i) => `<div class="field"><label for="step-${i}">${esc(t("step", i + 1))}</label><select id="step-${i}" data-step="${i}">${stepOptions(k)}</select></div>`).join("")}
    <div class="field"><button class="quiet" type="button" id="add-step"${steps.length >= 8 ? " disabled" : ""}>${esc(t("addStep"))}</button></div>
    ${steps.length > 2 ? `<div class="field"><button class="quiet" type="button" id="remove-step">${esc(t("removeStep"))}</button></div>` : ""}
    <div class="field"><label for="window">${esc(t("window"))}</label><select id="window">${WINDOWS.map(([v, l]) => `<option value="${v}"${v === win ? " selected" : ""}>${l}</option>`).join("")}</select></div>
    <div class="field check"><input type="checkbox" id="strict"${strict ? " checked" : ""}><label for="strict">${esc(t("strict"))}</label></div>
    <div class="field"><label for="by">${esc(t("breakdown"))}</label><select id="by"><option value="">${esc(t("noBreakdown"))}</option>
      <option value="first_touch_channel"${by === "first_touch_channel" ? " selected" : ""}>${esc(t("firstChannel"))}</option>
      <option value="first_touch_stage"${by === "first_touch_stage" ? " selected" : ""}>${esc(t("firstStage"))}</option></select></div>
  </form>`;
  const query = { steps, window_s: win, mode: strict ? "strict" : "default" };
  if (dropped && dropped < steps.length) query.dropped_step = dropped;
  const [res, before] = await Promise.all([
    api("/api/analytics/funnel", { filter: planFilter(now), ...(by ? { breakdown: { by } } : {}), max_groups: 6, query }),
    state.compare && !by ? api("/api/analytics/funnel", { filter: planFilter(period(state.range, 1)), query: { steps, window_s: win, mode: query.mode } }) : Promise.resolve(null),
  ]);
  // The previous period's conversion from step 1, by step (the whole funnel only).
  const was = (gi, step) => (gi === 0 && before ? before.groups?.[0]?.report?.steps?.[step - 1]?.from_first : null);
  const dur = (s) => (s == null ? "–" : s < 3600 ? fmt(s / 60, 0) + " min" : s < 86400 ? fmt(s / 3600, 1) + " h" : fmt(s / 86400, 1) + " d");
  const groups = res.groups || [];
  const body = groups.map((g, gi) => {
    const st = g.report.steps;
    const first = st[0]?.customers || 0;
    const bars = st.map((x) => `<li><div class="tp">${esc(name[x.key] || x.key)}</div><div class="meter big" aria-hidden="true"><span data-w="${first ? ((100 * x.customers) / first).toFixed(1) : 0}"></span></div>
      <div class="muted">${fmt(x.customers)} · ${pct(x.from_first)}${x.step > 1 ? ` · ${esc(t("fromPrevious"))} ${pct(x.from_previous)} · ${esc(t("median"))} ${dur(x.median_s)}` : ""}${gi === 0 && !by && x.step < st.length ? ` · <a href="#" data-dropped="${x.step}">${esc(t("whoDropped"))}</a>` : ""}</div>${x.step > 1 ? rateChange(x.from_first, was(gi, x.step)) : ""}</li>`).join("");
    const rows = st.map((x) => `<tr><td>${x.step}</td><td>${esc(name[x.key] || x.key)}</td><td class="n" data-v="${x.customers}">${fmt(x.customers)}</td>
      <td class="n" data-v="${x.from_previous}">${pct(x.from_previous)}</td><td class="n" data-v="${x.from_first}">${pct(x.from_first)}</td><td class="n" data-v="${x.median_s ?? ""}">${dur(x.median_s)}</td><td class="n" data-v="${x.p90_s ?? ""}">${dur(x.p90_s)}</td>
      <td>${gi === 0 && !by && x.step < st.length ? `<a href="#" data-dropped="${x.step}">${esc(t("whoDropped"))}</a>` : ""}</td></tr>`).join("");
    return `<section class="panel" aria-labelledby="fg-${gi}"><h2 id="fg-${gi}">${esc(g.group === "all" ? t("allCustomers") : g.group)} <span class="muted">${fmt(g.customers)}</span></h2>
      <ol class="funnel">${bars}</ol>
      <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table class="funnel-table"><thead><tr><th>#</th><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("customers"))}</th><th class="n">${esc(t("fromPrevious"))}</th><th class="n">${esc(t("fromFirst"))}</th><th class="n">${esc(t("median"))}</th><th class="n">p90</th><th></th></tr></thead><tbody>${rows}</tbody></table></div></details>
      ${g.report.dropped ? `<h3>${esc(t("droppedAfter", g.report.dropped.step, fmt(g.report.dropped.total)))}</h3><p class="ids" id="dropped-ids">${g.report.dropped.customers.map((c) => `<a href="#project=${esc(state.project)}&view=customers&customer=${esc(c)}&lang=${state.lang}">#${esc(c)}</a>`).join(" ") || esc(t("none"))}</p>` : ""}
    </section>`;
  }).join("");
  main.innerHTML = `<h1>${esc(t("funnel"))}</h1><p class="muted">${now.from} – ${now.to}</p>${controls}${body}
    <div class="tools"><button class="quiet" id="csv-funnel" type="button">${esc(t("csv"))}</button></div>`;
  const read = () => [...main.querySelectorAll("[data-step]")].map((el) => el.value);
  main.querySelectorAll("[data-step]").forEach((el) => el.addEventListener("change", () => setParams({ steps: read().join(","), dropped: null })));
  main.querySelector("#add-step").addEventListener("click", () => setParams({ steps: [...read(), keys.find((k) => !read().includes(k)) || keys[0]].join(",") }));
  main.querySelector("#remove-step")?.addEventListener("click", () => setParams({ steps: read().slice(0, -1).join(","), dropped: null }));
  main.querySelector("#window").addEventListener("change", (e) => setParams({ window: e.target.value }));
  main.querySelector("#strict").addEventListener("change", (e) => setParams({ strict: e.target.checked ? "1" : null }));
  main.querySelector("#by").addEventListener("change", (e) => setParams({ by: e.target.value, dropped: null }));
  main.querySelectorAll("[data-dropped]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ steps: steps.join(","), dropped: a.dataset.dropped }); }));
  main.querySelector("#csv-funnel").addEventListener("click", () => download(`funnel-${now.from}-${now.to}.csv`, [...main.querySelectorAll(".funnel-table")].map(tableCsv).join("\n")));
}

// ---- Customers --------------------------------------------------------------------------
const role = () => boot.projects.find((p) => String(p.id) === state.project)?.role;
async function customers(main) {
  const id = hashParam("customer");
  const search = `<form class="controls" id="find" role="search"><div class="field"><label for="q">${esc(t("findCustomer"))}</label>
    <input type="text" id="q" name="q" value="${esc(hashParam("q") || "")}" placeholder="${esc(t("findHint"))}"></div>
    <div class="field"><button type="submit">${esc(t("find"))}</button></div></form>`;
  const bind = () => main.querySelector("#find").addEventListener("submit", async (e) => {
    e.preventDefault();
    const q = main.querySelector("#q").value.trim();
    if (!q) return setParams({ customer: null, q: null });
    // A trait: `email=ana@eshop.cz`, or an e-mail address alone.
    const byTrait = /^([A-Za-z0-9_.-]{1,200})=(.+)$/.exec(q) || (q.includes("@") ? [q, "email", q] : null);
    if (byTrait) {
      const found = await api(`/api/customers/search?trait=${encodeURIComponent(byTrait[1])}&value=${encodeURIComponent(byTrait[2])}`).catch(() => ({ items: [] }));
      if (found.items.length === 1) return setParams({ customer: found.items[0].id, q });
      if (found.items.length > 1) {
        main.querySelector("#found").innerHTML = `<ul class="ids">${found.items.map((c) => `<li><a href="#project=${esc(state.project)}&view=customers&customer=${c.id}&lang=${state.lang}">#${c.id} ${esc(c.traits?.name || c.user_id || "")}</a></li>`).join("")}</ul>`;
        return;
      }
    }
    for (const path of [`/api/customers/lookup?user_id=${encodeURIComponent(q)}`, `/api/customers/lookup?anonymous_id=${encodeURIComponent(q)}`, /^#?\d+$/.test(q) ? `/api/customers/${q.replace("#", "")}` : null]) {
      if (!path) continue;
      try { const c = await api(path); return setParams({ customer: c.id, q }); } catch (_) { /* next way */ }
    }
    const out = main.querySelector("#found"); out.innerHTML = `<p class="notice" role="alert">${esc(t("notFound", q))}</p>`;
  });
  if (!id) {
    const list = await api("/api/customers?limit=50");
    const label = (c) => c.traits?.name || c.traits?.email || c.user_id || `#${c.id}`;
    main.innerHTML = `<h1>${esc(t("customersView"))}</h1>${search}<div id="found"></div>
      <section class="panel"><div class="scroll"><table><thead><tr><th>#</th><th>${esc(t("name"))}</th><th>${esc(t("userId"))}</th><th>${esc(t("since"))}</th></tr></thead><tbody>
      ${list.items.map((c) => `<tr><td><a href="#" data-customer="${c.id}">${c.id}</a></td><td>${esc(label(c))}</td><td>${esc(c.user_id || "–")}</td><td>${esc(c.created_at.slice(0, 10))}</td></tr>`).join("")}
      </tbody></table></div></section>`;
    bind();
    main.querySelectorAll("[data-customer]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ customer: a.dataset.customer }); }));
    return;
  }
  const [c, tl, prefs] = await Promise.all([api(`/api/customers/${encodeURIComponent(id)}`), api(`/api/customers/${encodeURIComponent(id)}/timeline?limit=100&lang=${state.lang}`), api(`/api/customers/${encodeURIComponent(id)}/preferences`)]);
  // Their choices as the delivery obeys them: a no for the topic or for all, on the
  // channel or on all, refuses; nothing said is a yes.
  const CHANNELS = ["email", "webhook", "in_page"];
  const topics = [...new Set(["service", "surveys", "marketing", ...prefs.map((p) => p.category).filter((x) => x !== "all")])];
  const refused = (cat, ch) => prefs.find((p) => (p.category === cat || p.category === "all") && (p.channel === ch || p.channel === "all") && !p.allowed);
  const editPrefs = can("edit");
  const prefRows = topics.map((cat) => `<tr><th scope="row">${esc(t("categories")[cat] || cat)}</th>${CHANNELS.map((ch) => {
    const no = refused(cat, ch), label = `${t("categories")[cat] || cat}: ${t("prefChannels")[ch]}`;
    const why = no ? ` title="${esc(`${no.source}, ${no.updated.slice(0, 10)}`)}"` : "";
    return `<td${why}>${editPrefs ? `<input type="checkbox" data-pref="${esc(cat)}/${ch}" aria-label="${esc(label)}"${no ? "" : " checked"}>` : `<span class="vh">${esc(label)}: </span>${no ? "✗" : "✓"}`}</td>`;
  }).join("")}</tr>`).join("");
  const traits = Object.entries(c.traits || {}).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`).join("");
  const ids = (c.identities || []).map((x) => `<li>${esc(x.kind)}: <code>${esc(x.value)}</code></li>`).join("");
  const when = (ts) => new Date(ts).toLocaleString(state.lang, { dateStyle: "medium", timeStyle: "short" });
  const events = tl.items.map((e) => `<li><time datetime="${esc(e.timestamp)}">${esc(when(e.timestamp))}</time> <strong>${esc(e.touchpoint_name || e.name || e.type)}</strong>
    <span class="muted">${esc([e.channel, e.stage].filter(Boolean).join(" · "))}</span></li>`).join("");
  const owner = role() === "owner";
  main.innerHTML = `<h1>${esc(t("customer"))} #${esc(c.id)}</h1>${search}<div id="found"></div>
    <div class="grid">
      <section class="panel" aria-labelledby="cu1"><h2 id="cu1">${esc(t("profile"))}</h2><p>${esc(t("userId"))}: <strong>${esc(c.user_id || "–")}</strong></p>
        ${traits ? `<div class="scroll"><table>${traits}</table></div>` : ""}
        ${owner ? `<div class="tools"><button class="quiet" type="button" id="export">${esc(t("export"))}</button><button class="quiet danger" type="button" id="erase">${esc(t("erase"))}</button></div>` : ""}
        <div id="done" role="status"></div></section>
      <section class="panel" aria-labelledby="cu2"><h2 id="cu2">${esc(t("identities"))}</h2><ul>${ids}</ul>
        ${(c.conflicts || []).length ? `<p class="notice">${esc(t("conflicts", c.conflicts.length))}</p>` : ""}</section>
      <section class="panel" aria-labelledby="cu4"><h2 id="cu4">${esc(t("prefsTitle"))}</h2><p class="muted">${esc(t("prefsHelp"))}</p>
        <div class="scroll"><table class="prefs" id="prefs"><thead><tr><th scope="col">${esc(t("prefTopic"))}</th>${CHANNELS.map((ch) => `<th scope="col">${esc(t("prefChannels")[ch])}</th>`).join("")}</tr></thead><tbody>${prefRows}</tbody></table></div>
        ${editPrefs ? `<div class="tools"><button class="quiet" type="button" id="prefs-save">${esc(t("prefsSave"))}</button></div>` : ""}<p role="status" class="muted" id="prefs-done"></p></section>
    </div>
    <section class="panel" aria-labelledby="cu3"><h2 id="cu3">${esc(t("timeline"))}</h2>${events ? `<ol class="timeline">${events}</ol>` : `<p>${esc(t("noEvents"))}</p>`}</section>`;
  bind();
  // Saved as the portal saves them: each box, and the broader choices set to yes so the boxes decide.
  main.querySelector("#prefs-save")?.addEventListener("click", async () => {
    const changes = [...main.querySelectorAll("[data-pref]")].map((x) => { const [category, channel] = x.dataset.pref.split("/"); return { category, channel, allowed: x.checked }; });
    for (const cat of topics) changes.push({ category: cat, channel: "all", allowed: true });
    for (const ch of [...CHANNELS, "all"]) changes.push({ category: "all", channel: ch, allowed: true });
    const out = main.querySelector("#prefs-done");
    try { await send("PUT", `/api/customers/${c.id}/preferences`, { preferences: changes }); out.textContent = t("prefsSaved"); } catch (err) { out.textContent = err.message; }
  });
  main.querySelector("#export")?.addEventListener("click", async () => {
    const doc = await api(`/api/customers/${c.id}/export`);
    download(`customer-${c.id}.json`, JSON.stringify(doc, null, 2), "application/json");
  });
  main.querySelector("#erase")?.addEventListener("click", async () => {
    if (!confirm(t("eraseConfirm", c.id))) return;
    const r = await fetch(`/api/customers/${c.id}`, { method: "DELETE", headers: { "X-Touchpoint-Project": state.project, "X-CSRF-Token": boot.csrf } });
    main.querySelector("#done").textContent = r.ok ? t("erased") : (await r.json().catch(() => ({}))).error?.message || r.statusText;
  });
}

// ---- Churn ------------------------------------------------------------------------------
async function churn(main) {
  const now = period(state.range), prev = period(state.range, 1);
  const [res, tps, before] = await Promise.all([
    api("/api/analytics/churn", { filter: planFilter(now), query: {} }),
    api(`/api/touchpoints?lang=${state.lang}`),
    state.compare ? api("/api/analytics/churn", { filter: planFilter(prev), query: {} }) : Promise.resolve(null),
  ]);
  // Silence in the previous period is seen only if the data reach one horizon before it.
  const dataFrom = before?.clock?.events_from;
  const partial = dataFrom && before.clock.silence_seen === "partly";
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const r = res.groups?.[0]?.report || { drivers: [], signals: [] };
  const drivers = (r.drivers || []).filter((d) => d.driver).slice(0, 12);
  const maxLift = Math.max(1, ...drivers.map((d) => d.lift || 0));
  const rows = drivers.map((d) => `<tr><td>${esc(name[d.touchpoint] || d.touchpoint)}</td>
    <td class="n" data-v="${d.churned_share}">${pct(d.churned_share)}</td><td class="n" data-v="${d.stayed_share}">${pct(d.stayed_share)}</td>
    <td class="n" data-v="${d.lift ?? ""}">${d.lift == null ? "–" : fmt(d.lift, 1) + "×"}<div class="meter" aria-hidden="true"><span data-w="${((100 * (d.lift || 0)) / maxLift).toFixed(1)}"></span></div></td>
    <td class="n" data-v="${d.q}">${d.q < 0.001 ? "&lt; " + fmt(0.001, 3) : fmt(d.q, 3)}</td></tr>`).join("");
  const signals = (r.signals || []).map((x) => `<tr><td>${esc(name[x.touchpoint] || x.touchpoint)}</td><td class="n">${fmt(x.customers)}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("churnView"))}</h1><p class="muted">${now.from} – ${now.to}</p>
  <p class="muted" id="churn-help">${esc(t("churnHelp", fmt((r.churn_horizon_s || 0) / 86400)))}</p>
  <div class="grid">
    <section class="panel" aria-labelledby="ch1"><h2 id="ch1">${esc(t("churned"))}</h2><p class="kpi" data-v="${r.churned}">${fmt(r.churned)}</p>
      <p class="muted">${pct(r.churn_rate)} ${esc(t("ofCustomers", fmt(r.customers)))}</p>${rateChange(r.churn_rate, before?.groups?.[0]?.report?.churn_rate, false)}${partial ? `<p class="muted" id="partial-previous">${esc(t("partialPrev", dataFrom.slice(0, 10)))}</p>` : ""}</section>
    <section class="panel" aria-labelledby="ch2"><h2 id="ch2">${esc(t("how"))}</h2>
      <p>${esc(t("bySignal"))}: <strong>${fmt(r.by_signal)}</strong><br>${esc(t("bySilence"))}: <strong id="by-silence" data-v="${r.by_silence}">${fmt(r.by_silence)}</strong></p></section>
  </div>
  <section class="panel" aria-labelledby="ch3"><h2 id="ch3">${esc(t("drivers"))}</h2><p class="muted">${esc(t("driversHelp"))}</p>
    ${drivers.length ? `<div class="scroll"><table id="drivers-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("amongChurned"))}</th><th class="n">${esc(t("amongStayed"))}</th><th class="n">${esc(t("lift"))}</th><th class="n">${esc(t("significance"))}</th></tr></thead><tbody>${rows}</tbody></table></div>
    <div class="tools"><button class="quiet" id="csv-drivers" type="button">${esc(t("csv"))}</button></div>` : `<p>${esc(t("noDrivers"))}</p>`}
  </section>
  ${signals ? `<section class="panel" aria-labelledby="ch4"><h2 id="ch4">${esc(t("signals"))}</h2><div class="scroll"><table><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${esc(t("customers"))}</th></tr></thead><tbody>${signals}</tbody></table></div></section>` : ""}`;
  main.querySelector("#csv-drivers")?.addEventListener("click", () => download(`churn-drivers-${now.from}-${now.to}.csv`, tableCsv(main.querySelector("#drivers-table"))));
}

// ---- Listening's further sections: distribution, trend, what detractors say, drivers, benchmark ----
const band = (s) => (s.score == null || !s.interval ? null : s);
function distributionChart(dist, metric) {
  if (!dist?.length) return "";
  const W = chartWidth(), H = 170, pad = 30, bw = (W - pad) / dist.length, max = Math.max(1, ...dist.map((d) => d.count));
  const colour = (v) => (metric !== "nps" ? "#0b5cad" : v <= 6 ? "#a4001d" : v <= 8 ? "#6b6b6b" : "#0a6b2f");
  const bars = dist.map((d, i) => { const h = ((H - 44) * d.count) / max, x = pad + i * bw;
    return `<rect x="${(x + bw * 0.12).toFixed(1)}" y="${(H - 22 - h).toFixed(1)}" width="${(bw * 0.76).toFixed(1)}" height="${h.toFixed(1)}" fill="${colour(d.value)}"><title>${d.value}: ${fmt(d.count)} (${fmt(d.pct, 1)} %)</title></rect>
      <text x="${(x + bw / 2).toFixed(1)}" y="${H - 6}" text-anchor="middle" font-size="12" fill="#1a1a1a">${d.value}</text>
      <text x="${(x + bw / 2).toFixed(1)}" y="${(H - 26 - h).toFixed(1)}" text-anchor="middle" font-size="11" fill="#4d4d4d">${fmt(d.pct, 0)}%</text>`; }).join("");
  return `<svg id="dist-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("distLabel", metric.toUpperCase()))}" xmlns="http://www.w3.org/2000/svg">${bars}</svg>
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="dist-table"><thead><tr><th>${esc(t("answer"))}</th><th class="n">n</th><th class="n">%</th></tr></thead><tbody>${dist.map((d) => `<tr><td>${d.value}</td><td class="n" data-v="${d.count}">${fmt(d.count)}</td><td class="n" data-v="${d.pct}">${fmt(d.pct, 1)}</td></tr>`).join("")}</tbody></table></div></details>`;
}
function trendChart(segments, metric) {
  const pts = (segments || []).filter((s) => band(s.result)).slice(-26);
  if (pts.length < 2) return "";
  const W = chartWidth(), H = 220, left = 44, right = 12, top = 12, bottom = 26;
  const lo = Math.min(...pts.map((p) => p.result.interval.low)), hi = Math.max(...pts.map((p) => p.result.interval.high));
  const X = (i) => left + ((W - left - right) * i) / (pts.length - 1), Y = (v) => top + ((H - top - bottom) * (hi - v)) / Math.max(hi - lo, 1e-9);
  const d = (metric === "nps" ? 0 : 2);
  const upper = pts.map((p, i) => `${X(i).toFixed(1)},${Y(p.result.interval.high).toFixed(1)}`), lower = pts.map((p, i) => `${X(i).toFixed(1)},${Y(p.result.interval.low).toFixed(1)}`).reverse();
  const label = (s) => s.segment.replace(/^week of /, "");
  return `<svg id="trend-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("trendLabel", metric.toUpperCase(), pts.length))}" xmlns="http://www.w3.org/2000/svg">
    <polygon points="${[...upper, ...lower].join(" ")}" fill="#0b5cad" fill-opacity="0.15"/>
    <polyline points="${pts.map((p, i) => `${X(i).toFixed(1)},${Y(p.result.score).toFixed(1)}`).join(" ")}" fill="none" stroke="#0b5cad" stroke-width="2.5"/>
    ${pts.map((p, i) => `<circle cx="${X(i).toFixed(1)}" cy="${Y(p.result.score).toFixed(1)}" r="3.5" fill="#0b5cad"><title>${esc(label(p))}: ${fmt(p.result.score, d)} (${fmt(p.result.interval.low, d)} – ${fmt(p.result.interval.high, d)}, n = ${p.result.n})</title></circle>`).join("")}
    <text x="${left - 6}" y="${Y(hi) + 4}" text-anchor="end" font-size="11" fill="#4d4d4d">${fmt(hi, d)}</text><text x="${left - 6}" y="${Y(lo) + 4}" text-anchor="end" font-size="11" fill="#4d4d4d">${fmt(lo, d)}</text>
    <text x="${left}" y="${H - 6}" font-size="11" fill="#4d4d4d">${esc(label(pts[0]))}</text><text x="${W - right}" y="${H - 6}" text-anchor="end" font-size="11" fill="#4d4d4d">${esc(label(pts[pts.length - 1]))}</text></svg>
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="trend-table"><thead><tr><th>${esc(t("weekOf"))}</th><th class="n">${metric.toUpperCase()}</th><th class="n">95 %</th><th class="n">n</th></tr></thead><tbody>
    ${pts.map((p) => `<tr><td class="date">${esc(label(p))}</td><td class="n" data-v="${p.result.score}">${fmt(p.result.score, d)}</td><td class="n">${fmt(p.result.interval.low, d)} – ${fmt(p.result.interval.high, d)}</td><td class="n">${fmt(p.result.n)}</td></tr>`).join("")}</tbody></table></div></details>`;
}
function saySection(text) {
  // One line per answer quoted: the terms of one repeated answer say the same thing.
  const quoted = new Set();
  const terms = (text?.report?.group_a || []).filter((x) => { const q = x.examples?.[0] || x.term; if (quoted.has(q)) return false; quoted.add(q); return true; }).slice(0, 8);
  if (!terms.length) return "";
  return `<section class="panel" aria-labelledby="l4"><h2 id="l4">${esc(t("detractorsSay"))}</h2><p class="muted">${esc(t("detractorsHelp", fmt(text.answers_a), fmt(text.answers_b)))}</p>
    <div class="scroll"><table id="say-table"><thead><tr><th>${esc(t("term"))}</th><th class="n">${esc(t("amongDetractors"))}</th><th class="n">${esc(t("amongPromoters"))}</th><th class="n">z</th><th>${esc(t("quote"))}</th></tr></thead><tbody>
    ${terms.map((x) => `<tr><td><strong>${esc(x.term)}</strong></td><td class="n">${fmt(x.answers_a)}</td><td class="n">${fmt(x.answers_b)}</td><td class="n">${fmt(x.z, 1)}</td><td><q>${esc(x.examples?.[0] || "")}</q></td></tr>`).join("")}</tbody></table></div></section>`;
}
function driversSection(drivers) {
  const a = drivers?.areas || [];
  if (a.length < 2) return "";
  const W = chartWidth(), H = Math.round(Math.min(360, W * 0.7)), pad = 40;
  const xs = a.map((x) => x.share_pct), ys = a.map((x) => x.performance);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const mid = (v) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
  const X = (v) => pad + ((W - pad * 2) * (v - x0)) / Math.max(x1 - x0, 1e-9), Y = (v) => pad / 2 + ((H - pad * 1.5) * (y1 - v)) / Math.max(y1 - y0, 1e-9);
  const mx = X(mid(xs)), my = Y(mid(ys));
  const dots = a.map((x) => { const weak = x.share_pct >= mid(xs) && x.performance < mid(ys);
    return `<circle cx="${X(x.share_pct).toFixed(1)}" cy="${Y(x.performance).toFixed(1)}" r="6" fill="${weak ? "#a4001d" : "#0b5cad"}"><title>${esc(x.name)}: ${fmt(x.share_pct, 1)} %, ${fmt(x.performance, 2)}</title></circle>
    <text x="${(X(x.share_pct) + (X(x.share_pct) > W * 0.7 ? -9 : 9)).toFixed(1)}" y="${(Y(x.performance) + 4).toFixed(1)}" text-anchor="${X(x.share_pct) > W * 0.7 ? "end" : "start"}" font-size="12" fill="#1a1a1a" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(x.name.length > 26 ? x.name.slice(0, 25) + "…" : x.name)}</text>`; }).join("");
  return `<section class="panel chart" aria-labelledby="l5"><h2 id="l5">${esc(t("driversTitle"))}</h2><p class="muted">${esc(t("driversQuadrantHelp", fmt(drivers.r2 * 100, 0)))}</p>
    <svg id="drivers-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("driversTitle"))}" xmlns="http://www.w3.org/2000/svg">
    <line x1="${mx.toFixed(1)}" x2="${mx.toFixed(1)}" y1="0" y2="${H - pad}" stroke="#8a8a8a" stroke-dasharray="4 4"/><line x1="${pad}" x2="${W - pad}" y1="${my.toFixed(1)}" y2="${my.toFixed(1)}" stroke="#8a8a8a" stroke-dasharray="4 4"/>
    <text x="${W - pad}" y="${(my + 16).toFixed(1)}" text-anchor="end" font-size="12" font-weight="700" fill="#a4001d">${esc(t("fixFirst"))}</text>
    ${dots}<text x="${pad}" y="${H - 4}" font-size="11" fill="#4d4d4d">${esc(t("importance"))} →</text><text x="4" y="12" font-size="11" fill="#4d4d4d">↑ ${esc(t("performance"))}</text></svg>
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="drivers-q-table"><thead><tr><th>${esc(t("area"))}</th><th class="n">${esc(t("importance"))}</th><th class="n">${esc(t("performance"))}</th><th class="n">${esc(t("rank"))}</th></tr></thead><tbody>
    ${[...a].sort((p, q) => p.rank - q.rank).map((x) => `<tr><td>${esc(x.name)}</td><td class="n" data-v="${x.share_pct}">${fmt(x.share_pct, 1)} %</td><td class="n" data-v="${x.performance}">${fmt(x.performance, 2)}</td><td class="n">${x.rank}</td></tr>`).join("")}</tbody></table></div></details>${toolButtons("drivers-q")}</section>`;
}
// Expectations against experience: each area's gap (experience − expectation) with its
// paired-t 95 % interval, as bars from zero; pale when the interval crosses zero.
function gapsSection(gaps, areaName) {
  const a = (gaps?.areas || []).filter((x) => x.gap?.interval);
  if (!a.length) return "";
  const W = chartWidth(), row = 34, left = Math.round(Math.min(220, W * 0.38)), H = row * a.length + 30;
  const lo = Math.min(0, ...a.map((x) => x.gap.interval.low)), hi = Math.max(0, ...a.map((x) => x.gap.interval.high));
  const X = (v) => left + ((W - left - 20) * (v - lo)) / Math.max(hi - lo, 1e-9);
  const fit = Math.floor((left - 16) / 7.5), short = (l) => (l.length > fit ? l.slice(0, fit - 1) + "…" : l);
  const label = (x) => areaName[x.area] || x.area;
  const bars = a.map((x, i) => {
    const y = 16 + i * row, g = x.gap, clear = g.interval.high < 0 || g.interval.low > 0;
    return `<text x="${left - 8}" y="${y + 5}" text-anchor="end" font-size="14" fill="#1a1a1a">${esc(short(label(x)))}</text>
      <rect x="${Math.min(X(0), X(g.gap)).toFixed(1)}" y="${y - 8}" width="${Math.max(1, Math.abs(X(g.gap) - X(0))).toFixed(1)}" height="16" fill="${g.gap < 0 ? "#a4001d" : "#0b5cad"}" fill-opacity="${clear ? 1 : 0.4}"><title>${esc(label(x))}: ${fmt(g.gap, 2)} (${fmt(g.interval.low, 2)} – ${fmt(g.interval.high, 2)}, n = ${g.n})</title></rect>
      <line x1="${X(g.interval.low).toFixed(1)}" x2="${X(g.interval.high).toFixed(1)}" y1="${y}" y2="${y}" stroke="#1a1a1a" stroke-width="2"/>`;
  }).join("");
  const table = a.map((x) => `<tr><td>${esc(label(x))}</td><td class="n">${fmt(x.gap.expectation, 2)}</td><td class="n">${fmt(x.gap.experience, 2)}</td>
    <td class="n" data-v="${x.gap.gap}">${fmt(x.gap.gap, 2)}</td><td class="n">${fmt(x.gap.interval.low, 2)} – ${fmt(x.gap.interval.high, 2)}</td><td class="n">${fmt(x.gap.n)}</td><td class="n">${x.gap.p == null ? "" : qv(x.gap.p)}</td></tr>`).join("");
  return `<section class="panel chart" aria-labelledby="l6"><h2 id="l6">${esc(t("gapsTitle"))}</h2><p class="muted">${esc(t("gapsHelp"))}</p>
    <svg id="gaps-svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("gapsTitle"))}" xmlns="http://www.w3.org/2000/svg">
    <line x1="${X(0).toFixed(1)}" x2="${X(0).toFixed(1)}" y1="0" y2="${H - 22}" stroke="#8a8a8a" stroke-dasharray="4 4"/>${bars}
    ${lo < 0 ? `<text x="${left}" y="${H - 4}" font-size="12" fill="#4d4d4d">${fmt(lo, 1)}</text>` : ""}<text x="${X(0).toFixed(1)}" y="${H - 4}" text-anchor="${lo < 0 && hi > 0 ? "middle" : lo < 0 ? "end" : "start"}" font-size="12" fill="#4d4d4d">0</text>${hi > 0 ? `<text x="${W - 20}" y="${H - 4}" text-anchor="end" font-size="12" fill="#4d4d4d">${fmt(hi, 1)}</text>` : ""}</svg>
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="gaps-table"><thead><tr><th>${esc(t("area"))}</th><th class="n">${esc(t("expected"))}</th><th class="n">${esc(t("experienced"))}</th><th class="n">${esc(t("gap"))}</th><th class="n">95 %</th><th class="n">n</th><th class="n">${esc(t("pValue"))}</th></tr></thead><tbody>${table}</tbody></table></div></details>
    ${toolButtons("gaps")}</section>`;
}

function benchmarkSection(bench, areaName) {
  const r = bench?.report;
  if (!r?.categories?.length) return "";
  const all = r.categories.flatMap((c) => c.scores.areas.map((x) => x?.value)).filter((v) => v != null);
  const lo = Math.min(...all), hi = Math.max(...all);
  const cell = (x) => { if (x?.value == null) return `<td class="n heat"></td>`; const [bg, fg] = shade((x.value - lo) / Math.max(hi - lo, 1e-9) * 0.999);
    return `<td class="n heat" data-v="${x.value}" data-bg="${bg}" data-fg="${fg}" title="${fmt(x.interval.low, 2)} – ${fmt(x.interval.high, 2)}, n = ${x.n}">${fmt(x.value, 2)}</td>`; };
  const heat = `<table id="bench-table" class="heatmap"><thead><tr><th>${esc(t("category"))}</th><th class="n">${esc(t("index"))}</th>${r.areas.map((k) => `<th class="n">${esc(areaName[k] || k)}</th>`).join("")}</tr></thead><tbody>
    ${r.categories.map((c) => `<tr><th scope="row">${esc(c.category)}</th><td class="n" data-v="${c.scores.index.value}">${fmt(c.scores.index.value, 2)}</td>${c.scores.areas.map(cell).join("")}</tr>`).join("")}</tbody></table>`;
  const brands = r.brands.slice(0, 15);
  const blo = Math.min(...brands.map((b) => b.scores.index.interval.low)), bhi = Math.max(...brands.map((b) => b.scores.index.interval.high));
  const W = chartWidth(), left = Math.round(Math.min(240, W * 0.42)), rh = 26, H = rh * brands.length + 26;
  const X = (v) => left + ((W - left - 16) * (v - blo)) / Math.max(bhi - blo, 1e-9);
  const ranks = brands.map((b, i) => { const y = 14 + rh * i, s = b.scores.index, l = `${b.rank}. ${b.brand}`;
    return `<text x="${left - 8}" y="${y + 4}" text-anchor="end" font-size="12" fill="#1a1a1a">${esc(l.length > Math.floor((left - 10) / 7) ? l.slice(0, Math.floor((left - 10) / 7) - 1) + "…" : l)}</text>
      <line x1="${X(s.interval.low).toFixed(1)}" x2="${X(s.interval.high).toFixed(1)}" y1="${y}" y2="${y}" stroke="#0b5cad" stroke-width="4" stroke-linecap="round"/><circle cx="${X(s.value).toFixed(1)}" cy="${y}" r="5" fill="#0b5cad"><title>${esc(b.brand)} (${esc(b.category)}): ${fmt(s.value, 2)} (${fmt(s.interval.low, 2)} – ${fmt(s.interval.high, 2)}, n = ${s.n})</title></circle>`; }).join("");
  return `<section class="panel" aria-labelledby="l6"><h2 id="l6">${esc(t("benchHeat"))}</h2><p class="muted">${esc(t("benchHelp", fmt(bench.responses)))}</p>
      <div class="scroll" role="region" aria-label="${esc(t("benchHeat"))}">${heat}</div>${toolButtons("bench", false)}</section>
    <section class="panel chart" aria-labelledby="l7"><h2 id="l7">${esc(t("brandRanking"))}</h2><p class="muted">${esc(t("intervalsHelp2"))}</p>
      <svg id="brands-svg" class="tall" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("brandRanking"))}" xmlns="http://www.w3.org/2000/svg">${ranks}
      <text x="${left}" y="${H - 4}" font-size="11" fill="#4d4d4d">${fmt(blo, 2)}</text><text x="${W - 16}" y="${H - 4}" text-anchor="end" font-size="11" fill="#4d4d4d">${fmt(bhi, 2)}</text></svg>
      <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="brands-table"><thead><tr><th class="n">${esc(t("rank"))}</th><th>${esc(t("brand"))}</th><th>${esc(t("category"))}</th><th class="n">${esc(t("index"))}</th><th class="n">95 %</th><th class="n">n</th></tr></thead><tbody>
      ${r.brands.map((b) => `<tr><td class="n">${b.rank}</td><td>${esc(b.brand)}</td><td>${esc(b.category)}</td><td class="n" data-v="${b.scores.index.value}">${fmt(b.scores.index.value, 2)}</td><td class="n">${fmt(b.scores.index.interval.low, 2)} – ${fmt(b.scores.index.interval.high, 2)}</td><td class="n">${fmt(b.scores.index.n)}</td></tr>`).join("")}</tbody></table></div></details>${toolButtons("brands")}</section>`;
}

// ---- Listening --------------------------------------------------------------------------
async function listening(main) {
  const [surveys, tps] = await Promise.all([api("/api/surveys"), api(`/api/touchpoints?lang=${state.lang}`)]);
  const name = Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.key]));
  const usable = surveys.filter((x) => x.status !== "draft");
  const h = new URLSearchParams(location.hash.slice(1));
  const survey = usable.find((x) => x.key === h.get("survey"))?.key || usable[0]?.key;
  const metric = ["nps", "csat", "ces"].includes(h.get("metric")) ? h.get("metric") : survey && /csat/.test(survey) ? "csat" : "nps";
  const pick = (id, label, options, value) => `<div class="field"><label for="${id}">${esc(label)}</label><select id="${id}">${options.map(([v, l]) => `<option value="${esc(v)}"${v === value ? " selected" : ""}>${esc(l)}</option>`).join("")}</select></div>`;
  const controls = `<div class="controls">${pick("survey", t("survey"), usable.map((x) => [x.key, x.definition?.title?.[state.lang] || x.key]), survey)}${pick("metric", t("metric"), [["nps", "NPS"], ["csat", "CSAT"], ["ces", "CES"]], metric)}</div>`;
  if (!survey) { main.innerHTML = `<h1>${esc(t("listening"))}</h1><p class="panel">${esc(t("noSurveys"))}</p>`; return; }
  let res, failure = null;
  // The answers given in the period shown.
  const now = period(state.range);
  const answered = { survey, from: new Date(now.fromS * 1000).toISOString(), to: new Date(now.toS * 1000).toISOString() };
  const optional = (p) => p.catch(() => null);
  const pairs = (usable.find((x) => x.key === survey)?.definition?.questions || []).filter((q) => q.type === "pair");
  const prev = period(state.range, 1);
  const [week, text, drivers, bench, gaps, before] = await Promise.all([
    optional(api(`/api/listening/${metric}`, { ...answered, by: "week" })),
    metric === "nps" ? optional(api("/api/listening/text", answered)) : null,
    optional(api("/api/listening/drivers", answered)),
    optional(api("/api/listening/benchmark", answered)),
    pairs.length ? optional(api("/api/listening/gaps", answered)) : null,
    // The previous period's score with its interval, beside this one (the two intervals
    // say how sure each is).
    state.compare ? optional(api(`/api/listening/${metric}`, { survey, from: new Date(prev.fromS * 1000).toISOString(), to: new Date(prev.toS * 1000).toISOString() })) : null,
    api(`/api/listening/${metric}`, { ...answered, by: "touchpoint" }).then((x) => { res = x; }, (e) => { failure = e.message; }),
  ]);
  const was = before?.result?.result;
  const areaName = Object.fromEntries((drivers?.result?.areas || []).map((x) => [x.area, x.name]));
  // A pair question names its area in the survey's words.
  const pairName = Object.fromEntries(pairs.map((q) => [q.area || q.id, q.text?.[state.lang] || q.text?.en || Object.values(q.text || {})[0] || q.id]));
  const r = res?.result;
  const score = (x) => (metric === "nps" ? fmt(x, 0) : fmt(x, 2));
  const segs = (r?.segments || []).filter((x) => x.result?.score != null && x.segment !== "(none)");
  // Each segment's score with its 95 % interval, on one axis.
  const all = [r?.result, ...segs.map((x) => x.result)].filter((x) => x?.interval);
  const lo = Math.min(...all.map((x) => x.interval.low)), hi = Math.max(...all.map((x) => x.interval.high));
  const W = chartWidth(), row = 30, left = Math.round(Math.min(260, W * 0.42)), H = row * (segs.length + 1) + 30;
  const X = (v) => left + ((W - left - 20) * (v - lo)) / Math.max(hi - lo, 1e-9);
  const fit = Math.floor((left - 24) / 7.5);
  const short = (label, room = fit) => (label.length > room ? label.slice(0, room - 1) + "…" : label);
  const line = (y, x, label, strong, flag) => `<text x="${left - 8}" y="${y + 5}" text-anchor="end" font-size="14" fill="#1a1a1a"${strong ? ' font-weight="700"' : ""}>${esc(short(label, flag ? fit - 2 : fit))}${flag ? " ●" : ""}</text>
    <line x1="${X(x.interval.low).toFixed(1)}" x2="${X(x.interval.high).toFixed(1)}" y1="${y}" y2="${y}" stroke="${flag ? "#a4001d" : "#0b5cad"}" stroke-width="4" stroke-linecap="round"/>
    <circle cx="${X(x.score).toFixed(1)}" cy="${y}" r="6" fill="${flag ? "#a4001d" : "#0b5cad"}"><title>${esc(label)}: ${score(x.score)} (${score(x.interval.low)} – ${score(x.interval.high)}, n = ${x.n})</title></circle>`;
  const chart = r ? `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("intervalsLabel", metric.toUpperCase()))}" xmlns="http://www.w3.org/2000/svg">
    <line x1="${X(r.result.score).toFixed(1)}" x2="${X(r.result.score).toFixed(1)}" y1="0" y2="${H - 24}" stroke="#8a8a8a" stroke-dasharray="4 4"/>
    ${line(20, r.result, t("everyone"), true, false)}
    ${segs.map((x, i) => line(20 + row * (i + 1), x.result, name[x.segment] || x.segment, false, x.vs_rest?.significant && x.result.score < r.result.score)).join("")}
    <text x="${left}" y="${H - 4}" font-size="12" fill="#4d4d4d">${score(lo)}</text><text x="${W - 20}" y="${H - 4}" text-anchor="end" font-size="12" fill="#4d4d4d">${score(hi)}</text></svg>` : "";
  const rows = segs.map((x) => `<tr><td>${esc(name[x.segment] || x.segment)}</td><td class="n" data-v="${x.result.score}">${score(x.result.score)}</td>
    <td class="n">${score(x.result.interval.low)} – ${score(x.result.interval.high)}</td><td class="n">${fmt(x.result.n)}</td>
    <td>${x.vs_rest?.significant ? esc(x.result.score < r.result.score ? t("worse") : t("better")) : ""}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("listening"))}</h1><p class="muted">${now.from} – ${now.to}</p>${controls}
  ${failure ? `<p class="notice" role="alert">${esc(failure)}</p>` : `
  <div class="grid">
    <section class="panel" aria-labelledby="l1"><h2 id="l1">${metric.toUpperCase()}</h2><p class="kpi" id="score">${score(r.result.score)}</p>
      <p class="muted">95 %: ${score(r.result.interval.low)} – ${score(r.result.interval.high)} · n = ${fmt(r.result.n)}</p>
      ${changeLine(r.result.score, was?.score, score, (w) => `${score(w)}${was.interval ? `, 95 %: ${score(was.interval.low)} – ${score(was.interval.high)}` : ""}`, true, "score-change")}</section>
  </div>
  ${segs.length ? `<section class="panel chart" aria-labelledby="l2"><h2 id="l2">${esc(t("byTouchpoint"))}</h2><p class="muted">${esc(t("intervalsHelp"))}</p>${chart}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="segments-table"><thead><tr><th>${esc(t("touchpoint"))}</th><th class="n">${metric.toUpperCase()}</th><th class="n">95 %</th><th class="n">n</th><th>${esc(t("vsRest"))}</th></tr></thead><tbody>${rows}</tbody></table></div></details>
    ${toolButtons("segments")}</section>` : ""}
  ${r?.distribution?.length ? `<section class="panel chart" aria-labelledby="l2a"><h2 id="l2a">${esc(t("distribution"))}</h2>${distributionChart(r.distribution, metric)}${toolButtons("dist")}</section>` : ""}
  ${trendChart(week?.result?.segments, metric) ? `<section class="panel chart" aria-labelledby="l3"><h2 id="l3">${esc(t("trend"))}</h2><p class="muted">${esc(t("trendHelp"))}</p>${trendChart(week.result.segments, metric)}${toolButtons("trend")}</section>` : ""}
  ${saySection(text?.result)}${driversSection(drivers?.result)}${gapsSection(gaps?.result, { ...pairName, ...areaName })}${benchmarkSection(bench?.result, areaName)}`}`;
  main.querySelector("#survey").addEventListener("change", (e) => { const p = new URLSearchParams(location.hash.slice(1)); p.set("survey", e.target.value); p.delete("metric"); location.hash = p; });
  main.querySelector("#metric").addEventListener("change", (e) => { const p = new URLSearchParams(location.hash.slice(1)); p.set("metric", e.target.value); location.hash = p; });
  chartTools(main, "segments", ".chart svg", "#segments-table", `${metric}-${survey}-by-touchpoint`);
  chartTools(main, "dist", "#dist-svg", "#dist-table", `${metric}-${survey}-answers`);
  chartTools(main, "trend", "#trend-svg", "#trend-table", `${metric}-${survey}-by-week`);
  chartTools(main, "bench", null, "#bench-table", `${survey}-benchmark`);
  chartTools(main, "gaps", "#gaps-svg", "#gaps-table", `${survey}-expectation-gaps`);
  chartTools(main, "drivers-q", "#drivers-svg", "#drivers-q-table", `${survey}-drivers`);
  chartTools(main, "brands", "#brands-svg", "#brands-table", `${survey}-brands`);
}

// ---- Shared by the later views ------------------------------------------------------------
const can = (what) => ({ owner: ["read", "edit", "admin"], analyst: ["read", "edit"], viewer: ["read"] }[role()] || []).includes(what);
const names = async () => {
  const tps = await api(`/api/touchpoints?lang=${state.lang}`);
  return { tps, name: Object.fromEntries(tps.map((x) => [x.key, x.names?.[state.lang] || x.name || x.key])) };
};
const select = (id, label, options, value) => `<div class="field"><label for="${id}">${esc(label)}</label><select id="${id}">${options.map(([v, l]) => `<option value="${esc(v)}"${String(v) === String(value) ? " selected" : ""}>${esc(l)}</option>`).join("")}</select></div>`;
const onChange = (main, id, param) => main.querySelector("#" + id)?.addEventListener("change", (e) => setParams({ [param]: e.target.type === "checkbox" ? (e.target.checked ? "1" : "0") : e.target.value }));
const qv = (q) => (q < 0.001 ? "&lt; " + fmt(0.001, 3) : fmt(q, 3));
function chartTools(main, id, svgSel, tableSel, file) {
  main.querySelector(`#csv-${id}`)?.addEventListener("click", () => download(`${file}.csv`, tableCsv(main.querySelector(tableSel))));
  main.querySelector(`#png-${id}`)?.addEventListener("click", () => svgPng(typeof svgSel === "function" ? svgSel() : main.querySelector(svgSel), `${file}.png`));
}
const toolButtons = (id, png = true) => `<div class="tools"><button class="quiet" id="csv-${id}" type="button">${esc(t("csv"))}</button>${png ? `<button class="quiet" id="png-${id}" type="button">${esc(t("png"))}</button>` : ""}</div>`;

// ---- Paths: a Sankey after a start or before an end touchpoint -----------------------------
async function paths(main) {
  const now = period(state.range);
  const { tps, name } = await names();
  const keys = tps.map((x) => x.key);
  const dir = hashParam("dir") === "before" ? "before" : "after";
  const anchor = keys.includes(hashParam("at")) ? hashParam("at") : keys.includes(dir === "after" ? "product-page" : "order-completed") ? (dir === "after" ? "product-page" : "order-completed") : keys[0];
  const steps = Math.min(6, Math.max(2, Number(hashParam("steps")) || 4));
  const controls = `<div class="controls">${select("dir", t("direction"), [["after", t("startAt")], ["before", t("endAt")]], dir)}
    ${select("at", t("touchpoint"), tps.map((x) => [x.key, name[x.key]]), anchor)}${select("steps", t("steps"), [2, 3, 4, 5, 6].map((n) => [n, n]), steps)}</div>`;
  if (!anchor) { main.innerHTML = `<h1>${esc(t("paths"))}</h1><p class="panel">${esc(t("noData"))}</p>`; return; }
  const res = await api("/api/analytics/sankey", { filter: planFilter(now), query: { [dir === "after" ? "start" : "end"]: anchor, steps, min_share: 0.03 } });
  const r = res.groups?.[0]?.report || { nodes: [], links: [], customers: 0 };
  const label = (n) => ({ other: t("other"), end: t("end"), start: t("start") }[n.kind] || name[n.key] || n.key);
  // Layout: one column per step, nodes stacked with their height by customers, links as
  // bands whose width is their customers.
  const W = Math.max(640, chartWidth()), cols = r.steps + 1, nodeW = 12, padY = 10, top = 10, labelRoom = Math.min(170, W / (cols + 1));
  // Every step a column, empty ones too (a backward path that starts late leaves the
  // first columns empty).
  const perStep = Array.from({ length: cols }, () => []); for (const n of r.nodes) perStep[n.step]?.push(n);
  const H = Math.max(220, Math.min(520, 60 * Math.max(1, ...perStep.map((s) => s.length))));
  const colX = (s) => 8 + ((W - 16 - nodeW - labelRoom) * s) / Math.max(cols - 1, 1);
  const scale = Math.min(...perStep.filter((s) => s.length).map((s) => (H - top * 2 - padY * (s.length - 1)) / Math.max(1, s.reduce((a, n) => a + n.customers, 0))));
  const pos = {};
  perStep.forEach((s, step) => { let y = top; for (const n of s) { pos[n.id] = { x: colX(step), y, h: Math.max(1, n.customers * scale), out: 0, in: 0 }; y += pos[n.id].h + padY; } });
  const colourOf = (n) => (n.kind === "touchpoint" ? COLOURS[Math.abs([...n.key].reduce((a, c) => a * 31 + c.charCodeAt(0), 7)) % (COLOURS.length - 1)] : "#8a8a8a");
  const byId = Object.fromEntries(r.nodes.map((n) => [n.id, n]));
  let bands = "";
  for (const l of r.links) {
    const s = pos[l.source], d = pos[l.target], w = l.customers * scale;
    const y0 = s.y + s.out + w / 2, y1 = d.y + d.in + w / 2; s.out += w; d.in += w;
    const x0 = s.x + nodeW, x1 = d.x, mx = (x0 + x1) / 2;
    bands += `<path d="M${x0.toFixed(1)},${y0.toFixed(1)} C${mx.toFixed(1)},${y0.toFixed(1)} ${mx.toFixed(1)},${y1.toFixed(1)} ${x1.toFixed(1)},${y1.toFixed(1)}" fill="none" stroke="${colourOf(byId[l.source])}" stroke-opacity="0.35" stroke-width="${Math.max(1, w).toFixed(1)}"><title>${esc(label(byId[l.source]))} → ${esc(label(byId[l.target]))}: ${fmt(l.customers)}</title></path>`;
  }
  const nodes = r.nodes.map((n) => {
    const p = pos[n.id], room = Math.floor((labelRoom - 8) / 6.6);
    const text = `${label(n)} · ${fmt(n.customers)}`;
    return `<rect x="${p.x.toFixed(1)}" y="${p.y.toFixed(1)}" width="${nodeW}" height="${p.h.toFixed(1)}" fill="${colourOf(n)}"><title>${esc(text)}</title></rect>
      ${p.h >= 12 ? `<text x="${(p.x + nodeW + 4).toFixed(1)}" y="${(p.y + p.h / 2 + 4).toFixed(1)}" font-size="12" fill="#1a1a1a" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(text.length > room ? text.slice(0, room - 1) + "…" : text)}</text>` : ""}`;
  }).join("");
  const svg = `<svg viewBox="0 0 ${W} ${H}" width="${W}" role="img" aria-label="${esc(t("pathsLabel", name[anchor], fmt(r.customers)))}" xmlns="http://www.w3.org/2000/svg">${bands}${nodes}</svg>`;
  const rows = r.links.map((l) => `<tr><td class="n">${byId[l.source].step}</td><td>${esc(label(byId[l.source]))}</td><td>${esc(label(byId[l.target]))}</td><td class="n" data-v="${l.customers}">${fmt(l.customers)}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("paths"))}</h1>${controls}
    <section class="panel chart" aria-labelledby="pa1"><h2 id="pa1">${esc(t(dir === "after" ? "startAt" : "endAt"))} ${esc(name[anchor])} <span class="muted">${fmt(r.customers)} · ${now.from} – ${now.to}</span></h2>
    ${r.customers ? `<div class="scroll sankey" role="region" aria-label="${esc(t("pathsLabel", name[anchor], fmt(r.customers)))}">${svg}</div>` : `<p>${esc(t("noPaths"))}</p>`}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll"><table id="paths-table"><caption>${esc(t("pathsTable"))}</caption><thead><tr><th class="n">${esc(t("step", ""))}</th><th>${esc(t("from"))}</th><th>${esc(t("to"))}</th><th class="n">${esc(t("customers"))}</th></tr></thead><tbody>${rows}</tbody></table></div></details>
    ${toolButtons("paths", r.customers > 0)}</section>`;
  for (const [id, p] of [["dir", "dir"], ["at", "at"], ["steps", "steps"]]) onChange(main, id, p);
  chartTools(main, "paths", ".sankey svg", "#paths-table", `paths-${dir}-${anchor}-${now.from}-${now.to}`);
}

// ---- Retention: the cohort heatmap ----------------------------------------------------------
// Six shades with the text colour that keeps AA contrast on each.
const SHADES = [["#f1f6fc", "#1a1a1a"], ["#d3e3f5", "#1a1a1a"], ["#a9c8ea", "#1a1a1a"], ["#6fa3d9", "#1a1a1a"], ["#2f74c0", "#fff"], ["#0b4f96", "#fff"]];
const shade = (r) => SHADES[r == null ? 0 : Math.min(5, Math.floor(r * 6))];
async function retention(main) {
  const now = period(state.range);
  const { tps, name } = await names();
  const days = rangeDays();
  const unit = days <= 14 ? "day" : days <= 120 ? "week" : "month";
  const count = { day: 7, week: days <= 31 ? 4 : 12, month: 11 }[unit];
  const back = tps.some((x) => x.key === hashParam("returning")) ? hashParam("returning") : "";
  const entry = tps.some((x) => x.key === hashParam("cohort")) ? hashParam("cohort") : "";
  const controls = `<div class="controls">${select("cohort", t("cohortBy"), [["", t("firstSeen")], ...tps.map((x) => [x.key, name[x.key]])], entry)}
    ${select("returning", t("returning"), [["", t("anyEvent")], ...tps.map((x) => [x.key, name[x.key]])], back)}</div>`;
  const query = { period: unit, periods: count, from: now.fromS, to: now.toS, ...(back ? { returning: back } : {}), ...(entry ? { cohort: { first_touchpoint: entry } } : {}) };
  const res = await api("/api/analytics/retention", { filter: planFilter(null), query });
  const r = res.groups?.[0]?.report || { cohorts: [], overall: { size: 0, rates: [] } };
  const u = t("unit")[unit];
  const head = `<tr><th>${esc(t("cohort"))}</th><th class="n">${esc(t("size"))}</th>${Array.from({ length: count + 1 }, (_, i) => `<th class="n">${esc(t("periodN", i, u))}</th>`).join("")}</tr>`;
  const cell = (rate, n) => { if (rate == null) return `<td class="n heat" data-v=""></td>`; const [bg, fg] = shade(rate); return `<td class="n heat" data-v="${rate}" data-bg="${bg}" data-fg="${fg}" title="${fmt(n)}">${pct(rate, 0)}</td>`; };
  const row = (label, c) => `<tr><th scope="row">${esc(label)}</th><td class="n" data-v="${c.size}">${fmt(c.size)}</td>${c.rates.map((x, i) => cell(x, c.retained[i])).join("")}</tr>`;
  const table = `<table id="retention-table" class="heatmap"><thead>${head}</thead><tbody>${row(t("overall"), r.overall)}${r.cohorts.map((c) => row(c.start, c)).join("")}</tbody></table>`;
  // The same heatmap as a picture, for the PNG download.
  const picture = () => {
    const cw = 64, lw = 120, rh = 26, W = lw + cw * (count + 2), H = rh * (r.cohorts.length + 2);
    const cells = [r.overall, ...r.cohorts].map((c, y) => [`<text x="4" y="${rh * (y + 1) + 17}" font-size="12">${esc(y ? c.start : t("overall"))}</text><text x="${lw + cw - 6}" y="${rh * (y + 1) + 17}" font-size="12" text-anchor="end">${fmt(c.size)}</text>`,
      ...c.rates.map((x, i) => { const [bg, fg] = shade(x); return x == null ? "" : `<rect x="${lw + cw * (i + 1)}" y="${rh * (y + 1)}" width="${cw - 2}" height="${rh - 2}" fill="${bg}"/><text x="${lw + cw * (i + 2) - 8}" y="${rh * (y + 1) + 17}" font-size="12" text-anchor="end" fill="${fg}">${pct(x, 0)}</text>`; })].join("")).join("");
    const heads = Array.from({ length: count + 1 }, (_, i) => `<text x="${lw + cw * (i + 2) - 8}" y="17" font-size="12" text-anchor="end" font-weight="700">${esc(t("periodN", i, u))}</text>`).join("");
    return new DOMParser().parseFromString(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="sans-serif">${heads}${cells}</svg>`, "image/svg+xml").documentElement;
  };
  main.innerHTML = `<h1>${esc(t("retention"))}</h1>${controls}
    <section class="panel" aria-labelledby="re1"><h2 id="re1">${esc(t("retention"))} <span class="muted">${now.from} – ${now.to}</span></h2><p class="muted">${esc(t("retentionHelp"))}</p>
    ${r.cohorts.length ? `<div class="scroll" role="region" aria-label="${esc(t("retentionLabel", r.cohorts.length))}">${table}</div>` : `<p>${esc(t("noCohorts"))}</p>`}
    ${toolButtons("retention", r.cohorts.length > 0)}</section>`;
  onChange(main, "cohort", "cohort"); onChange(main, "returning", "returning");
  chartTools(main, "retention", picture, "#retention-table", `retention-${now.from}-${now.to}`);
}

// ---- Attribution: every model side by side ----------------------------------------------------
async function attribution(main) {
  const now = period(state.range);
  const { tps, name } = await names();
  const goals = tps.filter((x) => x.conversion);
  const goal = goals.some((x) => x.key === hashParam("goal")) ? hashParam("goal") : goals[0]?.key;
  const by = hashParam("by") === "channel" ? "channel" : "touchpoint";
  const controls = `<div class="controls">${select("goal", t("goal"), goals.map((x) => [x.key, name[x.key]]), goal)}${select("by", t("by"), [["touchpoint", t("byTouchpoint2")], ["channel", t("byChannel")]], by)}</div>`;
  if (!goal) { main.innerHTML = `<h1>${esc(t("attribution"))}</h1><p class="panel">${esc(t("noGoal"))}</p>`; return; }
  const res = await api("/api/analytics/attribution", { filter: planFilter(now), query: { goal, by } });
  const r = res.groups?.[0]?.report || { rows: [], models: [] };
  const models = r.models.map((m) => m.model);
  const label = (k) => (by === "channel" ? k : name[k] || k);
  const top = (x) => Math.max(...models.map((m) => x.credits[m]?.share || 0));
  const rows = [...r.rows].sort((a, b) => top(b) - top(a)).slice(0, 15);
  const W = chartWidth(), left = Math.round(Math.min(220, W * 0.38)), rh = 28, H = rh * rows.length + 34;
  const max = Math.max(0.05, ...rows.flatMap((x) => models.map((m) => x.credits[m]?.share || 0)));
  const X = (v) => left + ((W - left - 16) * v) / max;
  const fit = Math.floor((left - 12) / 7.8);
  const dots = rows.map((x, i) => { const y = 16 + rh * i; const l = label(x.key);
    return `<text x="${left - 8}" y="${y + 4}" text-anchor="end" font-size="13" fill="#1a1a1a">${esc(l.length > fit ? l.slice(0, fit - 1) + "…" : l)}</text><line x1="${left}" x2="${W - 16}" y1="${y}" y2="${y}" stroke="#e3e7ee"/>
      ${models.map((m, j) => `<circle cx="${X(x.credits[m]?.share || 0).toFixed(1)}" cy="${y}" r="5" fill="${COLOURS[j % COLOURS.length]}"><title>${esc(l)} · ${esc(t("model")[m] || m)}: ${pct(x.credits[m]?.share)}</title></circle>`).join("")}`; }).join("");
  const axis = [0, 0.5, 1].map((f) => `<text x="${X(max * f).toFixed(1)}" y="${H - 4}" text-anchor="${f === 0 ? "start" : f === 1 ? "end" : "middle"}" font-size="11" fill="#4d4d4d">${pct(max * f, 0)}</text>`).join("");
  const svg = `<svg class="tall" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("attributionLabel", name[goal]))}" xmlns="http://www.w3.org/2000/svg">${dots}${axis}</svg>`;
  const legend = models.map((m, j) => `<li><i data-bg="${COLOURS[j % COLOURS.length]}"></i>${esc(t("model")[m] || m)}</li>`).join("");
  const table = `<table id="attribution-table"><thead><tr><th>${esc(by === "channel" ? t("channel") : t("touchpoint"))}</th>${models.map((m) => `<th class="n">${esc(t("model")[m] || m)}</th>`).join("")}</tr></thead><tbody>
    ${r.rows.map((x) => `<tr><td>${esc(label(x.key))}</td>${models.map((m) => `<td class="n" data-v="${x.credits[m]?.share ?? ""}">${pct(x.credits[m]?.share)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
  main.innerHTML = `<h1>${esc(t("attribution"))}</h1>${controls}
    <div class="grid"><section class="panel" aria-labelledby="at0"><h2 id="at0">${esc(t("conversions"))}</h2><p class="kpi" id="conversions">${fmt(r.conversions)}</p><p class="muted">${esc(name[goal])} · ${now.from} – ${now.to}</p></section></div>
    <section class="panel chart" aria-labelledby="at1"><h2 id="at1">${esc(t("models"))}</h2><p class="muted">${esc(t("attributionHelp"))}</p>
    ${rows.length ? svg + `<ul class="legend">${legend}</ul>` : `<p>${esc(t("noData"))}</p>`}
    <details><summary>${esc(t("asTable"))}</summary><div class="scroll">${table}</div></details>${toolButtons("attribution", rows.length > 0)}</section>`;
  onChange(main, "goal", "goal"); onChange(main, "by", "by");
  chartTools(main, "attribution", ".chart svg", "#attribution-table", `attribution-${goal}-${by}-${now.from}-${now.to}`);
}

// The catalog's rule builder: a rule typed field by field, previewed on the project's
// last 1,000 events as it is typed (`POST /api/rules/test`), added by analysts and owners.
const FIELDS = ["path", "referrer_domain", "utm_medium", "utm_source", "utm_campaign", "property"];
function ruleForm(tps, name, edit) {
  const opts = (list, value) => list.map(([v, l]) => `<option value="${esc(v)}"${v === value ? " selected" : ""}>${esc(l)}</option>`).join("");
  const f = (id, label, control) => `<div class="field"><label for="${id}">${esc(label)}</label>${control}</div>`;
  return `<form class="panel" id="rule-form" aria-labelledby="ru1"><h2 id="ru1">${esc(t("newRule"))}</h2><p class="muted">${esc(t("newRuleHelp"))}</p><div class="controls">
    ${f("rule-touchpoint", t("touchpoint"), `<select id="rule-touchpoint" name="touchpoint">${opts(tps.filter((x) => !x.discovered).map((x) => [x.key, name[x.key]]), "")}</select>`)}
    ${f("rule-type", t("eventType"), `<select id="rule-type" name="event_type">${opts([["", t("anyType")], ["track", "track"], ["page", "page"], ["screen", "screen"]], "track")}</select>`)}
    ${f("rule-name", t("eventName"), `<input type="text" id="rule-name" name="event_name" autocomplete="off">`)}
    ${f("rule-field", t("condition"), `<select id="rule-field" name="field">${opts([["", t("noCondition")], ...FIELDS.map((x) => [x, x])], "")}</select>`)}
    ${f("rule-property", t("propertyName"), `<input type="text" id="rule-property" name="property" autocomplete="off">`)}
    ${f("rule-op", t("how"), `<select id="rule-op" name="op">${opts(Object.entries(t("ops")), "equals")}</select>`)}
    ${f("rule-value", t("value"), `<input type="text" id="rule-value" name="value" autocomplete="off">`)}
    ${f("rule-priority", t("priority"), `<input type="number" id="rule-priority" name="priority" value="50" min="-1000000" max="1000000">`)}
    ${edit ? `<div class="field"><button type="submit">${esc(t("addRule"))}</button></div>` : ""}</div>
    <div id="rule-preview" role="status" aria-live="polite"></div></form>`;
}
function ruleOf(form) {
  const v = (n) => form.elements.namedItem(n).value.trim();
  const field = v("field"), conditions = [];
  if (field) conditions.push({ field, ...(field === "property" ? { name: v("property") } : {}), op: v("op"), value: v("value") });
  return { priority: Number(v("priority")) || 0, touchpoint: v("touchpoint"), event_type: v("event_type") || null, event_name: v("event_name") || null, conditions };
}
function bindRuleForm(main, name, rules) {
  const form = main.querySelector("#rule-form");
  if (!form) return;
  const out = form.querySelector("#rule-preview");
  // Which rule the form changes (null: it adds a new one).
  let editing = null;
  let timer = 0, asked = 0;
  main.querySelectorAll("[data-rule-edit]").forEach((b) => b.addEventListener("click", () => {
    const r = rules.find((x) => String(x.id) === b.dataset.ruleEdit); if (!r) return;
    editing = r.id;
    const set = (n, v) => { form.elements.namedItem(n).value = v ?? ""; };
    const c = r.conditions?.[0] || {};
    set("touchpoint", r.touchpoint); set("event_type", r.event_type || ""); set("event_name", r.event_name || ""); set("priority", r.priority);
    set("field", c.field || ""); set("property", c.name || ""); set("op", c.op || "equals"); set("value", c.value || "");
    form.querySelector("#ru1").textContent = t("editingRule", r.id);
    const submit = form.querySelector("button[type=submit]"); if (submit) submit.textContent = t("saveRule");
    form.scrollIntoView({ block: "start" });
    form.dispatchEvent(new Event("change"));
  }));
  main.querySelectorAll("[data-rule-delete]").forEach((b) => b.addEventListener("click", async () => {
    if (!confirm(t("deleteRuleConfirm", b.dataset.ruleDelete))) return;
    const status = main.querySelector("#rules-status");
    try { const r = await send("DELETE", `/api/rules/${b.dataset.ruleDelete}`); status.textContent = t("ruleDeleted", fmt(r.reclassified?.changed ?? 0)); setTimeout(render, 1200); }
    catch (err) { status.textContent = err.message; }
  }));
  const preview = async () => {
    const mine = ++asked;
    try {
      const r = await send("POST", "/api/rules/test?last=1000", ruleOf(form));
      if (mine !== asked) return;
      out.innerHTML = `<p><strong>${esc(t("wouldTake", fmt(r.matched), fmt(r.scanned)))}</strong>${r.from.length ? ` ${esc(t("nowAre"))}: ${r.from.map(([k, n]) => `${esc(name[k] || k)} (${fmt(n)})`).join(", ")}` : ""}</p>
        ${r.examples.length ? `<ul class="timeline">${r.examples.map((x) => `<li><time>${esc(x.timestamp.replace("T", " ").slice(0, 19))}</time> <strong>${esc(x.name || x.path || x.type)}</strong> <span class="muted">${esc([x.type, x.path].filter(Boolean).join(" · "))}</span></li>`).join("")}</ul>` : ""}`;
    } catch (err) { if (mine === asked) out.innerHTML = `<p class="notice">${esc(err.message)}</p>`; }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(preview, 350); });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(preview, 50); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    // A preview still on its way must not write over what the change did.
    clearTimeout(timer); asked++;
    try {
      const r = editing == null ? await send("POST", "/api/rules", ruleOf(form)) : await send("PUT", `/api/rules/${editing}`, ruleOf(form));
      out.innerHTML = `<p>${esc(t(editing == null ? "ruleAdded" : "ruleSaved", fmt(r.reclassified?.changed ?? 0)))}</p>`; setTimeout(render, 1200);
    }
    catch (err) { out.innerHTML = `<p class="notice">${esc(err.message)}</p>`; }
  });
}

// ---- Catalog: touchpoints by stage and channel, the unclassified ones first -----------------------
async function catalog(main) {
  const [{ tps, name }, project, rules] = await Promise.all([names(), api("/api/project"), api("/api/rules")]);
  const stageName = Object.fromEntries((project.stages || []).map((s) => [s.key, s.names?.[state.lang] || s.key]));
  const edit = can("edit");
  const open = tps.filter((x) => x.discovered);
  const stageOpts = [["", "–"], ...(project.stages || []).map((s) => [s.key, stageName[s.key]])];
  // A discovered key is the event's own name (`track:Gift Card Redeemed`), so the form's
  // ids are numbered and its fields named.
  const opts = (list, value) => list.map(([v, l]) => `<option value="${esc(v)}"${v === value ? " selected" : ""}>${esc(l)}</option>`).join("");
  const form = (x, i) => `<form class="panel classify" data-key="${esc(x.key)}" aria-labelledby="cl-${i}"><h3 id="cl-${i}"><code>${esc(x.key)}</code></h3>
    <div class="controls"><div class="field"><label for="stage-${i}">${esc(t("stage"))}</label><select id="stage-${i}" name="stage">${opts(stageOpts, x.stage || "")}</select></div>
    <div class="field"><label for="channel-${i}">${esc(t("channel"))}</label><select id="channel-${i}" name="channel">${opts(CHANNELS.map((c) => [c, c]), x.channel)}</select></div>
    ${Object.keys(LANGS).map((l) => `<div class="field"><label for="name-${l}-${i}">${esc(t("namesIn", l))}</label><input type="text" id="name-${l}-${i}" name="name-${l}" data-lang="${l}" value="${esc(x.names?.[l] || "")}"></div>`).join("")}
    <div class="field check"><input type="checkbox" id="goal-${i}" name="goal"${x.conversion ? " checked" : ""}><label for="goal-${i}">${esc(t("goalFlag"))}</label></div>
    <div class="field check"><input type="checkbox" id="churn-${i}" name="churn"${x.churn ? " checked" : ""}><label for="churn-${i}">${esc(t("churnFlag"))}</label></div>
    <div class="field"><button type="submit">${esc(t("save"))}</button></div></div><p role="status" class="muted"></p></form>`;
  const flagsOf = (x) => [x.conversion ? t("goalFlag") : null, x.churn ? t("churnFlag") : null].filter(Boolean).join(", ");
  const stageAt = (k) => { const i = (project.stages || []).findIndex((x) => x.key === k); return i < 0 ? 1e9 : i; };
  const list = [...tps].sort((a, b) => stageAt(a.stage) - stageAt(b.stage) || a.channel.localeCompare(b.channel) || a.key.localeCompare(b.key));
  const OPS = { eq: "=", ne: "≠", gt: ">", gte: "≥", lt: "<", lte: "≤" };
  const cond = (r) => (r.conditions || []).map(({ op, value, ...f }) => `${f.field === "property" || f.field === "trait" ? `${f.field}.${f.name}` : f.field} ${OPS[op] || op.replace(/_/g, " ")}${op === "exists" ? "" : " " + value}`).join("; ");
  main.innerHTML = `<h1>${esc(t("catalog"))}</h1>${edit ? "" : `<p class="muted">${esc(t("readOnly"))}</p>`}
    <section class="panel" aria-labelledby="ca1"><h2 id="ca1">${esc(t("unclassifiedTps"))} <span class="muted">${fmt(open.length)}</span></h2><p class="muted">${esc(t("unclassifiedHelp"))}</p>
      ${open.length ? (edit ? open.slice(0, 20).map((x, i) => form(x, i)).join("") : `<ul>${open.map((x) => `<li><code>${esc(x.key)}</code></li>`).join("")}</ul>`) : `<p>${esc(t("allClassified"))}</p>`}</section>
    <section class="panel" aria-labelledby="ca2"><h2 id="ca2">${esc(t("touchpoints"))} <span class="muted">${fmt(tps.length)}</span></h2><div class="scroll"><table id="catalog-table"><thead><tr><th>${esc(t("stage"))}</th><th>${esc(t("channel"))}</th><th>${esc(t("touchpoint"))}</th><th>${esc(t("key"))}</th><th>${esc(t("flags"))}</th></tr></thead><tbody>
      ${list.map((x) => `<tr><td>${esc(x.stage ? stageName[x.stage] || x.stage : "–")}</td><td>${esc(x.channel)}</td><td>${esc(name[x.key])}</td><td><code>${esc(x.key)}</code></td><td>${esc(flagsOf(x))}</td></tr>`).join("")}</tbody></table></div>${toolButtons("catalog", false)}</section>
    <section class="panel" aria-labelledby="ca3"><h2 id="ca3">${esc(t("rules"))} <span class="muted">${fmt(rules.length)}</span></h2>
      ${rules.length ? `<div class="scroll"><table id="rules-table"><thead><tr><th class="n">${esc(t("priority"))}</th><th>${esc(t("touchpoint"))}</th><th>${esc(t("eventType"))}</th><th>${esc(t("eventName"))}</th><th>${esc(t("conditions"))}</th>${edit ? "<th></th>" : ""}</tr></thead><tbody>
      ${rules.map((r) => `<tr><td class="n">${fmt(r.priority)}</td><td>${esc(name[r.touchpoint] || r.touchpoint)}</td><td>${esc(r.event_type || "–")}</td><td>${esc(r.event_name || "–")}</td><td>${esc(cond(r))}</td>${edit ? `<td class="actions"><button class="quiet" type="button" data-rule-edit="${r.id}">${esc(t("editRule"))}</button> <button class="quiet danger" type="button" data-rule-delete="${r.id}">${esc(t("deleteRule"))}</button></td>` : ""}</tr>`).join("")}</tbody></table></div>` : `<p>${esc(t("noRules"))}</p>`}<p role="status" class="muted" id="rules-status"></p></section>
    ${ruleForm(tps, name, edit)}`;
  bindRuleForm(main, name, rules);
  chartTools(main, "catalog", null, "#catalog-table", "touchpoints");
  main.querySelectorAll("form.classify").forEach((f) => f.addEventListener("submit", async (e) => {
    e.preventDefault();
    const k = f.dataset.key, out = f.querySelector("[role=status]"), field = (n) => f.elements.namedItem(n);
    const body = { stage: field("stage").value || null, channel: field("channel").value, conversion: field("goal").checked, churn: field("churn").checked,
      names: Object.fromEntries([...f.querySelectorAll("input[data-lang]")].map((i) => [i.dataset.lang, i.value.trim() || k])) };
    try { await send("PUT", `/api/touchpoints/${encodeURIComponent(k)}`, body); out.textContent = t("classified"); setTimeout(render, 600); } catch (err) { out.textContent = err.message; }
  }));
}
// A change through the API (PUT, DELETE, POST), with the CSRF token.
async function send(method, path, body) {
  const r = await fetch(path, { method, credentials: "same-origin", headers: { "X-Touchpoint-Project": state.project, "X-CSRF-Token": boot.csrf, ...(body === undefined ? {} : { "Content-Type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(data.error?.message || r.statusText), { field: data.error?.field });
  return data;
}

// ---- The survey builder: every question kind, branching, a live preview in each language ----
const KINDS = ["nps", "csat", "ces", "rating", "single", "multiple", "text", "matrix", "pair"];
const SCALES = { nps: [0, 10], csat: [1, 5], ces: [1, 7] };
// Options and matrix areas are edited as lines: `key | English | Czech | Polish`.
const choiceLines = (list) => (list || []).map((c) => [c.key, c.label?.en || "", c.label?.cs || "", c.label?.pl || ""].join(" | ")).join("\n");
const parseChoices = (text) => text.split("\n").map((l) => l.split("|").map((x) => x.trim())).filter((p) => p[0])
  .map(([key, en, cs, pl]) => ({ key, label: Object.fromEntries(Object.entries({ en, cs, pl }).filter(([, v]) => v)) }));
function previewSurvey(def, lang) {
  const tx = (o) => o?.[lang] || o?.[def.default_locale] || o?.en || "";
  const scale = (a, b) => `<div class="scale" aria-hidden="true">${Array.from({ length: b - a + 1 }, (_, i) => `<span>${a + i}</span>`).join("")}</div>`;
  const body = (q) => {
    if (SCALES[q.type]) return scale(...SCALES[q.type]);
    switch (q.type) {
      case "rating": return scale(q.min ?? 0, q.max ?? 10);
      case "single": case "multiple": return `<ul class="choices">${(q.options || []).map((c) => `<li>${q.type === "single" ? "○" : "☐"} ${esc(tx(c.label) || c.key)}</li>`).join("")}</ul>`;
      case "text": return `<div class="box${q.multiline === false ? "" : " tall"}"></div>`;
      case "matrix": return `<ul class="choices">${(q.areas || []).map((c) => `<li>${esc(tx(c.label) || c.key)} ${scale(0, 10)}</li>`).join("")}</ul>`;
      case "pair": return `<p class="muted">${esc(tx(q.expectation))}</p>${scale(0, 10)}<p class="muted">${esc(tx(q.experience))}</p>${scale(0, 10)}`;
      default: return "";
    }
  };
  const when = (s) => (!s?.question ? "" : `<p class="muted">${esc(t("shownWhen", s.question, [s.min != null ? `≥ ${s.min}` : "", s.max != null ? `≤ ${s.max}` : "", (s.any_of || []).length ? s.any_of.join(" / ") : ""].filter(Boolean).join(", ")))}</p>`);
  return `<div class="preview" lang="${lang}"><h3>${esc(tx(def.title))}</h3>${tx(def.intro) ? `<p>${esc(tx(def.intro))}</p>` : ""}
    <ol>${def.questions.map((q) => `<li>${when(q.show_if)}<p><strong>${esc(tx(q.text)) || `<span class="notice">${esc(t("noText", lang))}</span>`}</strong>${q.required ? " *" : ""}</p>${tx(q.help) ? `<p class="muted">${esc(tx(q.help))}</p>` : ""}${body(q)}</li>`).join("")}</ol>
    ${tx(def.thank_you) ? `<p class="muted">${esc(t("thanksPreview"))}</p><p>${esc(tx(def.thank_you))}</p>` : ""}</div>`;
}
function surveyBuilder(host, survey, done) {
  const def = JSON.parse(JSON.stringify(survey.definition));
  let lang = state.lang;
  const input = (id, label, value, attrs = "") => `<div class="field"><label for="${id}">${esc(label)}</label><input type="text" id="${id}" value="${esc(value ?? "")}" ${attrs}></div>`;
  const texts = (id, label, obj, attrs) => Object.keys(LANGS).map((l) => input(`${id}-${l}`, `${label} (${l})`, obj?.[l], `${attrs} data-lang="${l}"`)).join("");
  const card = (q, i) => {
    const opts = (list, v) => list.map((x) => `<option value="${esc(x)}"${x === v ? " selected" : ""}>${esc(x)}</option>`).join("");
    const earlier = def.questions.slice(0, i).map((x) => x.id);
    return `<fieldset class="question" data-i="${i}"><legend>${esc(t("questionN", i + 1))} · ${esc(q.id)}</legend><div class="controls">
      ${input(`q${i}-id`, "id", q.id, 'data-f="id"')}
      <div class="field"><label for="q${i}-type">${esc(t("questionType"))}</label><select id="q${i}-type" data-f="type">${opts(KINDS, q.type)}</select></div>
      <div class="field check"><input type="checkbox" id="q${i}-req" data-f="required"${q.required ? " checked" : ""}><label for="q${i}-req">${esc(t("required"))}</label></div></div>
      <div class="controls">${texts(`q${i}-text`, t("questionText"), q.text, 'data-f="text"')}</div>
      <div class="controls">${texts(`q${i}-help`, t("questionHelp"), q.help, 'data-f="help"')}${input(`q${i}-area`, t("questionArea"), q.area, 'data-f="area" maxlength="64"')}</div>
      ${q.type === "rating" ? `<div class="controls">${input(`q${i}-min`, "min", q.min ?? 0, 'data-f="min" inputmode="numeric"')}${input(`q${i}-max`, "max", q.max ?? 10, 'data-f="max" inputmode="numeric"')}</div>` : ""}
      ${["single", "multiple", "matrix"].includes(q.type) ? `<div class="field"><label for="q${i}-choices">${esc(t("choicesHelp"))}</label><textarea id="q${i}-choices" data-f="choices" rows="4">${esc(choiceLines(q.type === "matrix" ? q.areas : q.options))}</textarea></div>` : ""}
      ${q.type === "pair" ? `<div class="controls">${texts(`q${i}-exp`, t("expectation"), q.expectation, 'data-f="expectation"')}${texts(`q${i}-got`, t("experience"), q.experience, 'data-f="experience"')}</div>` : ""}
      ${earlier.length ? `<div class="controls"><div class="field"><label for="q${i}-if">${esc(t("showIf"))}</label><select id="q${i}-if" data-f="show_q"><option value="">${esc(t("always"))}</option>${opts(earlier, q.show_if?.question)}</select></div>
        ${input(`q${i}-ifmin`, t("atLeast"), q.show_if?.min, 'data-f="show_min" inputmode="numeric"')}${input(`q${i}-ifmax`, t("atMost"), q.show_if?.max, 'data-f="show_max" inputmode="numeric"')}
        ${input(`q${i}-ifany`, t("anyOf"), (q.show_if?.any_of || []).join(", "), 'data-f="show_any"')}</div>` : ""}
      <div class="tools"><button class="quiet" type="button" data-move="-1"${i ? "" : " disabled"}>↑</button><button class="quiet" type="button" data-move="1"${i < def.questions.length - 1 ? "" : " disabled"}>↓</button>
        <button class="quiet danger" type="button" data-remove>${esc(t("removeQuestion"))}</button></div></fieldset>`;
  };
  // The form's fields, read back into the definition.
  const read = () => {
    const v = (id) => host.querySelector("#" + id);
    for (const [field, id] of [["title", "b-title"], ["intro", "b-intro"], ["thank_you", "b-thanks"]]) {
      def[field] = def[field] || {};
      for (const l of Object.keys(LANGS)) { const x = v(`${id}-${l}`).value.trim(); if (x) def[field][l] = x; else delete def[field][l]; }
    }
    def.questions = def.questions.map((q, i) => {
      const f = (name) => host.querySelector(`fieldset[data-i="${i}"] [data-f="${name}"]`);
      const loc = (name) => Object.fromEntries([...host.querySelectorAll(`fieldset[data-i="${i}"] [data-f="${name}"]`)].map((x) => [x.dataset.lang, x.value.trim()]).filter(([, x]) => x));
      const type = f("type").value, out = { id: f("id").value.trim(), type, text: loc("text"), required: f("required").checked };
      const help = loc("help"), area = f("area").value.trim();
      if (Object.keys(help).length) out.help = help;
      if (area) out.area = area;
      if (type === "rating") { out.min = Number(f("min")?.value ?? 0); out.max = Number(f("max")?.value ?? 10); }
      if (type === "text") out.multiline = q.multiline ?? true;
      if (type === "single" || type === "multiple") out.options = f("choices") ? parseChoices(f("choices").value) : q.options || [];
      if (type === "matrix") out.areas = f("choices") ? parseChoices(f("choices").value) : q.areas || [];
      if (type === "pair") { out.expectation = loc("expectation"); out.experience = loc("experience"); }
      const sq = f("show_q")?.value;
      if (sq) {
        const num = (x) => (x === "" || x == null ? undefined : Number(x));
        out.show_if = { question: sq, min: num(f("show_min").value), max: num(f("show_max").value), any_of: f("show_any").value.split(",").map((x) => x.trim()).filter(Boolean) };
      }
      return out;
    });
  };
  const preview = () => { host.querySelector("#b-preview").innerHTML = previewSurvey(def, lang); };
  const draw = () => {
    host.innerHTML = `<div class="builder"><div class="builder-form"><div class="controls">${texts("b-title", t("surveyTitle"), def.title, "")}</div>
      <div class="controls">${texts("b-intro", t("surveyIntro"), def.intro, "")}</div><div class="controls">${texts("b-thanks", t("surveyThanks"), def.thank_you, "")}</div>
      ${def.questions.map(card).join("")}
      <div class="tools"><button class="quiet" type="button" id="b-add">${esc(t("addQuestion"))}</button><button type="button" id="b-save">${esc(t("save"))}</button><button class="quiet" type="button" id="b-cancel">${esc(t("cancel"))}</button></div>
      <p role="status" class="muted" id="b-status"></p></div>
      <div class="builder-preview"><div class="controls">${select("b-lang", t("previewIn"), Object.entries(LANGS), lang)}</div><div id="b-preview"></div></div></div>`;
    preview();
  };
  draw();
  host.addEventListener("input", (e) => { if (e.target.id === "b-lang") return; read(); preview(); });
  host.addEventListener("change", (e) => {
    if (e.target.id === "b-lang") { lang = e.target.value; preview(); return; }
    read();
    // A new kind or a new branch changes which fields a question has.
    if (["type", "show_q"].includes(e.target.dataset.f)) draw(); else preview();
  });
  host.addEventListener("click", async (e) => {
    const b = e.target.closest("button"); if (!b) return;
    const i = Number(b.closest("fieldset")?.dataset.i);
    if (b.id === "b-add") { read(); def.questions.push({ id: `q${def.questions.length + 1}`, type: "text", text: {}, required: false, multiline: true }); draw(); }
    else if (b.dataset.move) { read(); const j = i + Number(b.dataset.move); [def.questions[i], def.questions[j]] = [def.questions[j], def.questions[i]]; draw(); }
    else if (b.hasAttribute("data-remove")) { read(); def.questions.splice(i, 1); draw(); }
    else if (b.id === "b-cancel") done(false);
    else if (b.id === "b-save") {
      read();
      try { await send("PUT", `/api/surveys/${encodeURIComponent(survey.key)}`, def); done(true); }
      catch (err) { host.querySelector("#b-status").textContent = err.message; }
    }
  });
}

// ---- Surveys: list, create from the NPS template, publish, close, responses -----------------------
async function surveys(main) {
  const [list, { tps, name }] = await Promise.all([api("/api/surveys"), names()]);
  const edit = can("edit");
  const title = (s) => s.definition?.title?.[state.lang] || s.definition?.title?.en || s.key;
  const qtext = (q) => q.text?.[state.lang] || q.text?.en || q.title?.[state.lang] || q.title?.en || q.id || "";
  const items = list.map((s) => `<section class="panel" aria-labelledby="sv-${esc(s.key)}"><h2 id="sv-${esc(s.key)}">${esc(title(s))} <span class="muted">${esc(s.key)}</span></h2>
    <p><span class="badge ${esc(s.status)}">${esc(t("status")[s.status] || s.status)}</span> · ${esc(t("version"))} ${fmt(s.version)}${s.status === "live" ? ` · <a href="${esc(s.open_url)}?lang=${state.lang}" target="_blank" rel="noopener">${esc(t("openLink"))}</a>` : ""}</p>
    <details><summary>${esc(t("questions"))} (${fmt((s.definition?.questions || []).length)})</summary><ol>${(s.definition?.questions || []).map((q) => `<li>${esc(qtext(q))} <span class="muted">${esc(q.type || "")}</span></li>`).join("") || `<li>${esc(t("noQuestions"))}</li>`}</ol></details>
    <div class="builder-host" data-key="${esc(s.key)}"></div>
    <div class="tools">${edit && s.status !== "closed" && hashParam("edit") !== s.key ? `<button class="quiet" type="button" data-act="edit" data-key="${esc(s.key)}">${esc(t("editSurvey"))}</button>` : ""}
      ${edit && s.status === "draft" ? `<button type="button" data-act="publish" data-key="${esc(s.key)}">${esc(t("publish"))}</button>` : ""}
      ${edit && s.status === "live" ? `<button class="quiet" type="button" data-act="close" data-key="${esc(s.key)}">${esc(t("close"))}</button>` : ""}
      ${s.status !== "draft" ? `<button class="quiet" type="button" data-act="csv" data-key="${esc(s.key)}">${esc(t("responses"))}</button>` : ""}</div><p role="status" class="muted"></p></section>`).join("");
  const create = edit ? `<form class="panel" id="new-survey" aria-labelledby="sv-new"><h2 id="sv-new">${esc(t("newSurvey"))}</h2><div class="controls">
    <div class="field"><label for="survey-key">${esc(t("key"))}</label><input type="text" id="survey-key" required pattern="[a-z0-9][a-z0-9_-]{0,63}" placeholder="nps-checkout"></div>
    ${select("survey-trigger", t("trigger"), [["", "–"], ...tps.map((x) => [x.key, name[x.key]])], "")}<div class="field"><button type="submit">${esc(t("create"))}</button></div></div><p role="status" class="muted"></p></form>` : "";
  main.innerHTML = `<h1>${esc(t("surveys"))}</h1>${edit ? "" : `<p class="muted">${esc(t("readOnly"))}</p>`}${items || `<p class="panel">${esc(t("noSurveys"))}</p>`}${create}`;
  main.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", async () => {
    const out = b.closest("section").querySelector("[role=status]");
    try {
      if (b.dataset.act === "edit") { setParams({ edit: b.dataset.key }); return; }
      if (b.dataset.act === "csv") {
        const r = await fetch(`/api/surveys/${encodeURIComponent(b.dataset.key)}/responses?format=csv`, { headers: { "X-Touchpoint-Project": state.project } });
        if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error?.message || r.statusText);
        download(`${b.dataset.key}-responses.csv`, await r.text());
      } else { await send("POST", `/api/surveys/${encodeURIComponent(b.dataset.key)}/${b.dataset.act}`); render(); }
    } catch (err) { out.textContent = err.message; }
  }));
  const editing = edit && list.find((x) => x.key === hashParam("edit") && x.status !== "closed");
  if (editing) surveyBuilder(main.querySelector(`.builder-host[data-key="${CSS.escape(editing.key)}"]`), editing, () => setParams({ edit: null }));
  main.querySelector("#new-survey")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = e.target.querySelector("[role=status]"), trigger = main.querySelector("#survey-trigger").value;
    try { await send("POST", "/api/surveys", { key: main.querySelector("#survey-key").value.trim(), template: "nps", ...(trigger ? { trigger } : {}) }); render(); } catch (err) { out.textContent = err.message; }
  });
}

// ---- Trigger rules: what each does, its firings, a preview, its measured effect ------------------
// ---- The trigger rule editor: the common rule as a form, all of it as JSON ----------------------
const RULE_LANGS = [["cs", "Čeština"], ["pl", "Polski"], ["en", "English"]];
const slug = (x) => x.toLowerCase().replace(/ł/g, "l").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64);
// A new rule starts as the issue's example: a late delivery not followed by a support contact.
const NEW_RULE = { name: "", when: { kind: "not_followed", within: "2d" }, then: { kind: "email", category: "service", templates: {} }, holdout: 0.1, guard: { reentry: "every_time" } };

// The editor in `box`: a form for what most rules say, and the JSON it writes, which holds
// the rest (who the rule is for, conditions on properties, HTML bodies) and can be edited.
// The form only sets what it shows; the JSON keeps everything else. `rule` is null for a new one.
function ruleEditor(box, rule, ctx, saved) {
  const { tps, name, stages, surveys } = ctx;
  const opts = (list, none) => (none ? [["", t("reNone")]] : []).concat(list).map(([k, l]) => `<option value="${esc(k)}">${esc(l)}</option>`).join("");
  const tpList = tps.map((x) => [x.key, name[x.key]]), svList = surveys.map((x) => [x.key, x.definition?.title?.[state.lang] || x.definition?.title?.en || x.key]);
  const stList = stages.map((x) => [x.key, x.names?.[state.lang] || x.key]);
  const f = (id, label, control, show = "") => `<div class="field"${show ? ` data-show="${show}"` : ""}><label for="${id}">${esc(label)}</label>${control}</div>`;
  const sel = (id, list, none) => `<select id="${id}">${opts(list, none)}</select>`;
  const txt = (id, extra = "") => `<input id="${id}" type="text" ${extra}>`;
  const kinds = (o) => Object.entries(o);
  box.innerHTML = `<form class="panel" id="rule-editor" novalidate><h2>${esc(rule ? t("editingRule", rule.key) : t("newRule"))}</h2>
    <div class="row">${f("re-name", t("reName"), txt("re-name", 'maxlength="200" required'))}${f("re-key", t("reKey"), txt("re-key", `maxlength="64" pattern="[a-z0-9][a-z0-9-]*"${rule ? " readonly" : ""}`))}</div>
    <fieldset><legend>${esc(t("whenLabel"))}</legend>${f("re-when", t("reStarts"), sel("re-when", kinds(t("whenKinds"))))}
      ${f("re-tp", t("reTouchpoint"), sel("re-tp", tpList), "happens not_followed")}
      ${f("re-followed", t("reFollowedBy"), `<select id="re-followed" multiple size="5">${opts(tpList)}</select>`, "not_followed")}
      ${f("re-within", t("reWithin"), txt("re-within", 'maxlength="10"'), "not_followed")}
      ${f("re-stage", t("reStage"), sel("re-stage", stList), "stage_entered")}
      ${f("re-wsurvey", t("reSurvey"), sel("re-wsurvey", svList), "survey_score")}
      <div class="row" data-show="survey_score">${f("re-min", t("reMin"), '<input id="re-min" type="number" step="any">')}${f("re-max", t("reMax"), '<input id="re-max" type="number" step="any">')}</div></fieldset>
    <fieldset><legend>${esc(t("thenLabel"))}</legend>${f("re-then", t("reSends"), sel("re-then", kinds(t("thenKinds"))))}
      ${f("re-category", t("reCategory"), sel("re-category", kinds(t("categories"))), "email webhook")}
      ${f("re-url", t("reUrl"), '<input id="re-url" type="url" maxlength="2000">', "webhook")}
      ${f("re-team", t("reTeam"), '<input id="re-team" type="email" maxlength="320">', "team_alert")}
      ${f("re-show", t("reShow"), sel("re-show", svList), "in_page")}
      ${f("re-invite", t("reInvite"), sel("re-invite", svList, true), "email webhook")}
      <p class="muted" data-show="email team_alert">${esc(t("reLangHelp"))}</p>
      ${RULE_LANGS.map(([l, label]) => `<fieldset class="lang" data-show="email team_alert"><legend>${esc(label)}</legend>${f(`re-subj-${l}`, t("reSubject"), txt(`re-subj-${l}`, 'maxlength="300"'))}${f(`re-text-${l}`, t("reText"), `<textarea id="re-text-${l}" rows="4"></textarea>`)}</fieldset>`).join("")}</fieldset>
    <fieldset><legend>${esc(t("holdoutLabel"))}</legend><div class="row">${f("re-holdout", t("reHoldout"), '<input id="re-holdout" type="number" min="0" max="50" step="1">')}
      ${f("re-goal", t("reGoal"), sel("re-goal", tpList, true))}${f("re-goal-within", t("reGoalWithin"), txt("re-goal-within", 'maxlength="10" placeholder="14d"'))}</div>
      <div class="row">${f("re-quiet-from", t("reQuiet") + " – " + t("dateFrom"), '<input id="re-quiet-from" type="time">')}${f("re-quiet-to", t("dateTo"), '<input id="re-quiet-to" type="time">')}</div>
      <div class="row">${f("re-cap-max", t("reCap"), '<input id="re-cap-max" type="number" min="1" step="1">')}${f("re-cap-per", t("reCapPer"), txt("re-cap-per", 'maxlength="10" placeholder="1d"'))}</div>
      <div class="row">${f("re-reentry", t("reReentry"), sel("re-reentry", kinds(t("reentries"))))}${f("re-reentry-per", t("rePer"), txt("re-reentry-per", 'maxlength="10" placeholder="30d"'), "once_per")}</div></fieldset>
    <details><summary>JSON</summary>${f("re-json", t("reJson"), '<textarea id="re-json" rows="14" spellcheck="false"></textarea>')}</details>
    <div class="tools"><button class="quiet" type="button" id="re-preview">${esc(t("previewRule"))}</button><button type="submit">${esc(t(rule ? "reSaveEdit" : "reSave"))}</button><button class="quiet" type="button" id="re-cancel">${esc(t("kbCancel"))}</button></div>
    <div class="answer" aria-live="polite"></div><p role="status" class="muted"></p></form>`;
  const $ = (id) => box.querySelector("#" + id), val = (id) => $(id).value.trim(), out = box.querySelector("[role=status]");
  const json = $("re-json");
  // What the JSON says now (or the rule as it was, while the JSON does not parse).
  const current = () => { try { const v = JSON.parse(json.value); return v && typeof v === "object" && !Array.isArray(v) ? v : {}; } catch { return null; } };
  function show() {
    const on = new Set([val("re-when"), val("re-then"), val("re-reentry")]);
    box.querySelectorAll("[data-show]").forEach((el) => { el.hidden = !el.dataset.show.split(" ").some((k) => on.has(k)); });
  }
  function fill(d) {
    const w = d.when || {}, th = d.then || {}, g = d.guard || {}, set = (id, v) => { $(id).value = v ?? ""; };
    set("re-name", d.name); set("re-when", w.kind || "happens");
    if (w.touchpoint) set("re-tp", w.touchpoint);
    [...$("re-followed").options].forEach((o) => { o.selected = (w.followed_by || []).includes(o.value); });
    set("re-within", w.within); if (w.stage) set("re-stage", w.stage); if (w.survey) set("re-wsurvey", w.survey); set("re-min", w.min); set("re-max", w.max);
    set("re-then", th.kind || "email"); set("re-category", th.category || (th.kind === "in_page" ? "surveys" : "service"));
    set("re-url", th.endpoint?.url); set("re-team", th.email); if (th.kind === "in_page") set("re-show", th.survey); set("re-invite", th.kind === "in_page" ? "" : th.survey);
    for (const [l] of RULE_LANGS) { set(`re-subj-${l}`, th.templates?.[l]?.subject); set(`re-text-${l}`, th.templates?.[l]?.text); }
    set("re-holdout", Math.round((d.holdout ?? 0.1) * 100)); set("re-goal", d.goal?.touchpoint); set("re-goal-within", d.goal?.within);
    set("re-quiet-from", g.quiet_hours?.from); set("re-quiet-to", g.quiet_hours?.to); set("re-cap-max", g.cap?.max); set("re-cap-per", g.cap?.per);
    const re = g.reentry || "every_time";
    set("re-reentry", typeof re === "object" ? "once_per" : re); set("re-reentry-per", re.once_per);
    show();
  }
  // The JSON with the form's fields written over it.
  function build() {
    const base = current() || structuredClone(rule?.definition || NEW_RULE), d = { ...base, name: val("re-name") };
    const oldW = base.when || {}, oldT = base.then || {}, wk = val("re-when"), tk = val("re-then");
    const when = { kind: wk };
    if (wk === "happens" || wk === "not_followed") { when.touchpoint = val("re-tp"); if (oldW.where) when.where = oldW.where; }
    if (wk === "not_followed") { when.followed_by = [...$("re-followed").selectedOptions].map((o) => o.value); when.within = val("re-within"); }
    if (wk === "stage_entered") when.stage = val("re-stage");
    if (wk === "survey_score") { when.survey = val("re-wsurvey"); if (val("re-min") !== "") when.min = Number(val("re-min")); if (val("re-max") !== "") when.max = Number(val("re-max")); }
    if (wk === "health_alert") Object.assign(when, oldW.kind === wk ? oldW : {});
    const then = { kind: tk }, invite = val("re-invite");
    const templates = () => Object.fromEntries(RULE_LANGS.map(([l]) => [l, { ...(oldT.templates?.[l] || {}), subject: val(`re-subj-${l}`), text: $(`re-text-${l}`).value }]).filter(([, x]) => x.subject || x.text.trim()));
    if (tk === "email") { then.category = val("re-category"); then.templates = templates(); if (oldT.fallback && then.templates[oldT.fallback]) then.fallback = oldT.fallback; }
    if (tk === "webhook") { then.endpoint = { ...(oldT.endpoint || {}), url: val("re-url") }; if (val("re-category") !== "service") then.category = val("re-category"); }
    if (tk === "email" || tk === "webhook") { if (invite) then.survey = invite; }
    if (tk === "team_alert") {
      if (val("re-team") || !oldT.endpoint) then.email = val("re-team"); else then.endpoint = oldT.endpoint;
      const tt = templates(); if (Object.keys(tt).length) then.templates = tt;
    }
    if (tk === "in_page") { then.survey = val("re-show"); if (oldT.kind === "in_page" && oldT.category) then.category = oldT.category; }
    d.when = when; d.then = then; d.holdout = Number(val("re-holdout") || 0) / 100;
    if (val("re-goal")) d.goal = { ...(base.goal || {}), touchpoint: val("re-goal"), within: val("re-goal-within") || "14d" }; else delete d.goal;
    const guard = { ...(base.guard || {}) };
    if (val("re-quiet-from") && val("re-quiet-to")) guard.quiet_hours = { from: val("re-quiet-from"), to: val("re-quiet-to") }; else delete guard.quiet_hours;
    if (val("re-cap-max")) guard.cap = { max: Number(val("re-cap-max")), per: val("re-cap-per") || "1d" }; else delete guard.cap;
    guard.reentry = val("re-reentry") === "once_per" ? { once_per: val("re-reentry-per") || "30d" } : val("re-reentry");
    d.guard = guard;
    return d;
  }
  const write = () => { json.value = JSON.stringify(build(), null, 2); };
  fill(rule?.definition || NEW_RULE);
  $("re-key").value = rule?.key || "";
  write();
  let keyTouched = !!rule;
  $("re-key").addEventListener("input", () => { keyTouched = true; });
  box.querySelector("form").addEventListener("input", (e) => {
    if (e.target === json) { const v = current(); if (v) fill(v); return; }
    if (e.target.id === "re-name" && !keyTouched) $("re-key").value = slug(val("re-name"));
    if (e.target.id !== "re-key") { show(); write(); }
  });
  box.querySelector("form").addEventListener("change", (e) => { if (e.target.tagName === "SELECT") { show(); write(); } });
  // The definition to send: the JSON as it stands, or a clear error.
  const definition = () => {
    try { return JSON.parse(json.value); } catch (err) { out.textContent = t("reBadJson", err.message); box.querySelector("details").open = true; json.focus(); return null; }
  };
  const failed = (err) => { out.textContent = err.field && !err.message.includes(err.field) ? `${err.field}: ${err.message}` : err.message; };
  $("re-cancel").addEventListener("click", () => { box.innerHTML = ""; });
  $("re-preview").addEventListener("click", async () => {
    const d = definition(), answer = box.querySelector(".answer");
    if (!d) return;
    out.textContent = ""; answer.innerHTML = "";
    try {
      const p = await send("POST", "/api/triggers/preview", { definition: d, days: 30 });
      answer.innerHTML = `<p data-k="preview">${esc(t("wouldHave", fmt(p.fired), fmt(p.customers)))}</p><p class="muted">${esc(t("heldBack", fmt(p.held_by_quiet_hours), fmt(p.suppressed_by_caps), fmt(p.held_out)))}</p>`;
    } catch (err) { failed(err); }
  });
  box.querySelector("form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = definition();
    if (!d) return;
    out.textContent = "";
    try {
      if (rule) { await send("PUT", `/api/triggers/${encodeURIComponent(rule.key)}`, d); saved(t("reSaved")); }
      else {
        const c = await send("POST", "/api/triggers", { key: val("re-key"), definition: d, live: false });
        saved(c.secret ? `${t("reSaved")} ${t("reSecret", c.secret)}` : t("reSaved"));
      }
    } catch (err) { failed(err); }
  });
  $("re-name").focus();
}

let triggerNotice = "";
async function triggers(main) {
  const edit = can("edit");
  const [list, { tps, name }, project, surveys] = await Promise.all([api("/api/triggers"), names(), edit ? api("/api/project") : {}, edit ? api("/api/surveys") : []]);
  const tp = (k) => name[k] || k;
  const said = (d) => {
    const w = d.when || {}, f = T[state.lang].when?.[w.kind] ?? T.en.when[w.kind];
    const what = !f ? w.kind : w.kind === "not_followed" ? f(tp(w.touchpoint), (w.followed_by || []).map(tp).join(", "), w.within) : w.kind === "stage_entered" ? f(w.stage) : w.kind === "survey_score" ? f(w.survey) : f(tp(w.touchpoint));
    const then = (t("thenKind")[d.then?.kind] || d.then?.kind || "") + (d.then?.survey ? t("withSurvey", d.then.survey) : "");
    return [what, then];
  };
  const items = list.map((r) => {
    const d = r.definition || {}, [what, then] = said(d), id = `tr-${esc(r.key)}`;
    const states = Object.entries(r.firings || {});
    return `<section class="panel" aria-labelledby="${id}"><h2 id="${id}">${esc(d.name || r.key)} <span class="muted">${esc(r.key)}</span></h2>
    <p><span class="badge ${esc(r.status)}">${esc(t("tstatus")[r.status] || r.status)}</span></p>
    <dl class="facts"><dt>${esc(t("whenLabel"))}</dt><dd>${esc(what)}</dd><dt>${esc(t("thenLabel"))}</dt><dd>${esc(then)}</dd>
      <dt>${esc(t("holdoutLabel"))}</dt><dd>${pct(d.holdout ?? 0.1, 0)}</dd></dl>
    ${states.length ? `<ul class="counts">${states.map(([k, n]) => `<li>${esc(t("fstate")[k] || k)} <b data-state="${esc(k)}">${fmt(n)}</b></li>`).join("")}</ul>` : ""}
    ${r.suppressed_reasons?.length ? `<details class="why" data-key="${esc(r.key)}"><summary>${esc(t("whySuppressed"))}</summary><ul class="counts">${r.suppressed_reasons.map((x) => `<li>${esc(t("sreason")[x.reason] || x.reason || "?")} <b data-reason="${esc(x.reason)}">${fmt(x.count)}</b></li>`).join("")}</ul></details>` : ""}
    <div class="tools"><button class="quiet" type="button" data-act="preview" data-key="${esc(r.key)}">${esc(t("previewRule"))}</button>
      <button class="quiet" type="button" data-act="report" data-key="${esc(r.key)}">${esc(t("report"))}</button>
      ${edit && r.status === "live" ? `<button class="quiet" type="button" data-act="pause" data-key="${esc(r.key)}">${esc(t("pause"))}</button>` : ""}
      ${edit && r.status !== "live" ? `<button type="button" data-act="resume" data-key="${esc(r.key)}">${esc(t("resume"))}</button>` : ""}
      ${edit ? `<button class="quiet" type="button" data-act="edit" data-key="${esc(r.key)}">${esc(t("editRule"))}</button>` : ""}</div>
    <div class="answer" aria-live="polite"></div><p role="status" class="muted"></p></section>`;
  }).join("");
  const notice = triggerNotice;
  triggerNotice = "";
  main.innerHTML = `<h1>${esc(t("triggers"))}</h1><p class="muted">${esc(t("triggersHelp"))}</p>${edit ? `<div class="tools"><button type="button" id="rule-new">${esc(t("newRule"))}</button></div>` : `<p class="muted">${esc(t("readOnly"))}</p>`}
    ${notice ? `<p class="panel saved" role="status" id="rule-notice">${esc(notice)}</p>` : ""}<div id="rule-form"></div>${items || `<p class="panel">${esc(t("noTriggers"))}</p>`}`;
  const ctx = { tps, name, stages: project.stages || [], surveys };
  const open = (rule) => { ruleEditor(main.querySelector("#rule-form"), rule, ctx, (msg) => { triggerNotice = msg; render(); }); main.querySelector("#rule-form").scrollIntoView({ block: "start" }); };
  main.querySelector("#rule-new")?.addEventListener("click", () => open(null));
  const report = (r) => {
    const u = r.uplift;
    if (!r.goal) return `<p>${esc(t("noGoal"))}</p>`;
    if (!u) return `<p>${esc(t("goalLabel"))}: ${esc(r.goal)}</p><p>${esc(t("noUplift", fmt(r.treated), fmt(r.held_out), fmt(r.maturing)))}</p>`;
    const g = (x) => `${esc(t("convertedOf", fmt(x.converted), fmt(x.customers)))} (${pct(x.rate)}; ${pct(x.interval.low)} – ${pct(x.interval.high)})`;
    return `<p>${esc(t("goalLabel"))}: ${esc(r.goal)}</p><table class="report"><tbody>
      <tr><th scope="row">${esc(t("treatedLabel"))}</th><td data-k="treated">${g(u.treated)}</td></tr>
      <tr><th scope="row">${esc(t("heldOutLabel"))}</th><td data-k="held_out">${g(u.held_out)}</td></tr>
      <tr><th scope="row">${esc(t("differenceLabel"))}</th><td data-k="difference">${pct(u.difference)}</td></tr>
      <tr><th scope="row">${esc(t("intervalLabel"))}</th><td data-k="interval">${pct(u.interval.low)} – ${pct(u.interval.high)}</td></tr>
      <tr><th scope="row">${esc(t("pValue"))}</th><td data-k="p">${fmt(u.p_value, 3)}</td></tr>
      <tr><th scope="row">${esc(t("movedLabel"))}</th><td data-k="moved">${fmt(u.moved, 1)}</td></tr></tbody></table>
      <p>${esc(t(u.significant ? "significantUp" : "notSignificant"))}</p>`;
  };
  main.querySelectorAll("[data-act]").forEach((b) => b.addEventListener("click", async () => {
    if (b.dataset.act === "edit") return open(list.find((r) => r.key === b.dataset.key));
    const sec = b.closest("section"), out = sec.querySelector("[role=status]"), answer = sec.querySelector(".answer"), key = encodeURIComponent(b.dataset.key);
    out.textContent = "";
    try {
      if (b.dataset.act === "preview") {
        const p = await api(`/api/triggers/${key}/preview?days=30`);
        answer.innerHTML = `<p data-k="preview">${esc(t("wouldHave", fmt(p.fired), fmt(p.customers)))}</p><p class="muted">${esc(t("heldBack", fmt(p.held_by_quiet_hours), fmt(p.suppressed_by_caps), fmt(p.held_out)))}</p>`;
      } else if (b.dataset.act === "report") {
        answer.innerHTML = report(await api(`/api/triggers/${key}/report`));
      } else { await send("POST", `/api/triggers/${key}/${b.dataset.act}`); render(); }
    } catch (err) { out.textContent = err.message; }
  }));
}

// ---- Self-service: does the help centre help, and its knowledge base ---------------------------
async function selfservice(main) {
  const days = rangeDays();
  const [r, arts] = await Promise.all([api(`/api/self-service?days=${days}`), api("/api/kb/articles")]);
  const edit = can("edit"), within = Math.round((r.options?.within_ms || 7 * 864e5) / 864e5);
  const rate = (x) => (x?.rate == null ? "–" : `${pct(x.rate)} (${pct(x.low)} – ${pct(x.high)}, n = ${fmt(x.n)})`);
  const sc = r.self_service_score;
  const facts = [
    [t("ssScore"), sc.ratio == null ? "–" : `${fmt(sc.ratio, 2)}${sc.low == null ? "" : ` (${fmt(sc.low, 2)} – ${fmt(sc.high, 2)})`}`, t("ssScoreHelp", fmt(sc.a), fmt(sc.b)), "score"],
    [t("ssDeflection"), rate(r.deflection), t("ssDeflectionHelp", within), "deflection"],
    [t("ssResolved"), rate(r.deflection_resolved), t("ssResolvedHelp"), "resolved"],
    [t("ssSuccess"), rate(r.search_success), t("ssSuccessHelp"), "success"],
    [t("ssNoResults"), rate(r.no_results), "", "no_results"],
    [t("ssCost"), fmt(r.cost_saved, 2), t("ssCostHelp", fmt(r.deflection.k), fmt(r.options.cost_assisted - r.options.cost_self, 2)), "cost"],
  ].map(([k, v, help, id]) => `<tr><th scope="row">${esc(k)}</th><td><span data-k="${id}">${esc(v)}</span>${help ? `<br><span class="muted">${esc(help)}</span>` : ""}</td></tr>`).join("");
  const failed = r.failed_searches.map((f) => `<tr><td>${esc(f.query)}</td><td>${esc(f.lang || "")}</td><td class="n">${fmt(f.searches)}</td><td class="n">${fmt(f.no_results)}</td><td class="n">${fmt(f.customers)}</td><td class="n" data-v="${f.then_assisted.rate ?? ""}">${esc(rate(f.then_assisted))}</td></tr>`).join("");
  const title = Object.fromEntries(arts.map((a) => [a.id, a.title]));
  const helped = r.articles.map((a) => `<tr><td>${esc(title[a.id] || r.titles?.[a.id] || a.id)}</td><td class="n">${fmt(a.views)}</td><td class="n" data-v="${a.helpful.rate ?? ""}">${esc(rate(a.helpful))}</td></tr>`).join("");
  const list = arts.map((a) => `<tr><td><a href="/portal/${encodeURIComponent(state.project)}/kb/${a.id}-${esc(a.slug)}?lang=${esc(a.lang)}" target="_blank" rel="noopener">${esc(a.title)}</a></td><td>${esc(a.lang)}</td><td class="n">${fmt(a.version)}</td><td>${a.published ? "" : esc(t("kbDraft"))}</td>
    <td>${edit ? `<button class="quiet" type="button" data-edit="${a.id}">${esc(t("kbEdit"))}</button>` : ""}</td></tr>`).join("");
  main.innerHTML = `<h1>${esc(t("selfservice"))}</h1><p class="muted">${esc(t("ssHelp"))}</p>
    <section class="panel" aria-labelledby="ss1"><h2 id="ss1">${esc(t("selfservice"))}</h2>${r.episodes || sc.b ? `<div class="scroll"><table class="report"><tbody>${facts}</tbody></table></div>` : `<p>${esc(t("ssNoData"))}</p>`}</section>
    ${failed ? `<section class="panel" aria-labelledby="ss2"><h2 id="ss2">${esc(t("ssFailed"))}</h2><p class="muted">${esc(t("ssFailedHelp"))}</p><div class="scroll"><table id="ss-failed"><thead><tr><th>${esc(t("ssQuery"))}</th><th>${esc(t("language"))}</th><th class="n">${esc(t("ssSearches"))}</th><th class="n">${esc(t("ssNone"))}</th><th class="n">${esc(t("customersView"))}</th><th class="n">${esc(t("ssThen"))}</th></tr></thead><tbody>${failed}</tbody></table></div>${toolButtons("failed", false)}</section>` : ""}
    ${helped ? `<section class="panel" aria-labelledby="ss3"><h2 id="ss3">${esc(t("ssArticles"))}</h2><div class="scroll"><table id="ss-articles"><thead><tr><th>${esc(t("kbTitle"))}</th><th class="n">${esc(t("ssReads"))}</th><th class="n">${esc(t("ssHelped"))}</th></tr></thead><tbody>${helped}</tbody></table></div>${toolButtons("helped", false)}</section>` : ""}
    <section class="panel" aria-labelledby="ss4"><h2 id="ss4">${esc(t("kbArticles"))}</h2>${edit ? `<div class="tools"><button type="button" id="kb-new">${esc(t("kbNew"))}</button></div>` : `<p class="muted">${esc(t("readOnly"))}</p>`}
      <div id="kb-form"></div>${list ? `<div class="scroll"><table id="kb-list"><thead><tr><th>${esc(t("kbTitle"))}</th><th>${esc(t("language"))}</th><th class="n">${esc(t("kbVersion"))}</th><th>${esc(t("kbState"))}</th><th></th></tr></thead><tbody>${list}</tbody></table></div>` : `<p>${esc(t("kbNone"))}</p>`}</section>`;
  chartTools(main, "failed", null, "#ss-failed", "failed-searches");
  chartTools(main, "helped", null, "#ss-articles", "article-helpfulness");
  const form = (a) => {
    const box = main.querySelector("#kb-form");
    box.innerHTML = `<form class="panel" id="kb-editor">${select("kb-lang", t("language"), [["cs", "Čeština"], ["pl", "Polski"], ["en", "English"]], a?.lang || state.lang)}
      <div class="field"><label for="kb-title">${esc(t("kbTitle"))}</label><input id="kb-title" type="text" maxlength="200" required value="${esc(a?.title || "")}"></div>
      <div class="field"><label for="kb-body">${esc(t("kbBody"))}</label><textarea id="kb-body" rows="10">${esc(a?.body || "")}</textarea></div>
      <div class="field check"><input id="kb-pub" type="checkbox"${a && !a.published ? "" : " checked"}><label for="kb-pub">${esc(t("kbPublished"))}</label></div>
      <div class="tools"><button type="submit">${esc(t("kbSave"))}</button><button class="quiet" type="button" id="kb-cancel">${esc(t("kbCancel"))}</button></div><p role="status" class="muted"></p></form>`;
    box.querySelector("#kb-cancel").addEventListener("click", () => { box.innerHTML = ""; });
    box.querySelector("form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const body = { lang: box.querySelector("#kb-lang").value, title: box.querySelector("#kb-title").value, body: box.querySelector("#kb-body").value, published: box.querySelector("#kb-pub").checked };
      const out = box.querySelector("[role=status]");
      try {
        const saved = a ? await send("PUT", `/api/kb/articles/${a.id}`, { ...body, base_version: a.version }) : await send("POST", "/api/kb/articles", body);
        out.textContent = t("kbSaved", saved.version);
        setTimeout(render, 600);
      } catch (err) { out.textContent = err.message; }
    });
    box.querySelector("#kb-title").focus();
  };
  main.querySelector("#kb-new")?.addEventListener("click", () => form(null));
  main.querySelectorAll("[data-edit]").forEach((b) => b.addEventListener("click", () => form(arts.find((a) => String(a.id) === b.dataset.edit))));
}

// ---- Requests: what customers asked in the portal, answered by the team ------------------------
async function requests(main) {
  const id = hashParam("request"), status = hashParam("status") || "";
  const statuses = ["new", "open", "waiting", "resolved", "closed"];
  const edit = can("edit");
  const when = (ts) => new Date(ts).toLocaleString(state.lang, { dateStyle: "short", timeStyle: "short" });
  const badge = (s) => `<span class="badge s-${esc(s)}">${esc(t("rstatus")[s] || s)}</span>`;
  if (!id) {
    const list = await api(`/api/requests?limit=200${status ? `&status=${status}` : ""}`);
    const tabs = [["", t("reqAll")], ...statuses.map((s) => [s, t("rstatus")[s]])]
      .map(([s, label]) => `<a href="#" data-status="${s}"${s === status ? ' aria-current="true"' : ""}>${esc(label)}</a>`).join("");
    main.innerHTML = `<h1>${esc(t("requests"))}</h1><p class="muted">${esc(t("reqHelp"))}</p>
      <nav class="tabs" aria-label="${esc(t("reqStatus"))}">${tabs}</nav>
      <section class="panel">${list.length ? `<div class="scroll"><table id="req-list"><thead><tr><th>#</th><th>${esc(t("reqSubject"))}</th><th>${esc(t("reqStatus"))}</th><th>${esc(t("reqCustomer"))}</th><th>${esc(t("reqAssignee"))}</th><th>${esc(t("reqUpdated"))}</th></tr></thead><tbody>
      ${list.map((r) => `<tr><td>${r.id}</td><td><a href="#" data-request="${r.id}">${esc(r.subject)}</a></td><td>${badge(r.status)}</td><td><a href="#project=${esc(state.project)}&view=customers&customer=${r.customer_id}&lang=${state.lang}">#${r.customer_id}</a></td><td>${esc(r.assignee || "–")}</td><td>${esc(when(r.updated))}</td></tr>`).join("")}</tbody></table></div>` : `<p>${esc(t("reqNone"))}</p>`}</section>`;
    main.querySelectorAll("[data-status]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ status: a.dataset.status || null, request: null }); }));
    main.querySelectorAll("[data-request]").forEach((a) => a.addEventListener("click", (e) => { e.preventDefault(); setParams({ request: a.dataset.request }); }));
    return;
  }
  const r = await api(`/api/requests/${encodeURIComponent(id)}`);
  const entry = (e) => {
    const who = e.author === "customer" ? t("reqFromCustomer") : `${t("reqFromTeam")}${e.author_name ? ` · ${e.author_name}` : ""}`;
    if (e.kind === "status") return `<li class="change">${esc(when(e.at))} · ${esc(who)} · ${esc(t("reqStatusTo", t("rstatus")[e.body] || e.body))}</li>`;
    if (e.kind === "assign") return `<li class="change">${esc(when(e.at))} · ${esc(who)} · ${esc(t("reqAssigned", e.body))}</li>`;
    return `<li class="${e.author === "customer" ? "mine" : "team"}"><b>${esc(who)}</b> <span class="muted">${esc(when(e.at))}</span><p class="text">${esc(e.body)}</p></li>`;
  };
  main.innerHTML = `<p><a href="#" id="req-back">← ${esc(t("reqBack"))}</a></p><h1>${esc(r.subject)}</h1>
    <p>${badge(r.status)} <span class="muted">${esc(t("reqOpened"))} ${esc(when(r.created))} · <a href="#project=${esc(state.project)}&view=customers&customer=${r.customer_id}&lang=${state.lang}">${esc(t("reqCustomer"))} #${r.customer_id}</a> · ${esc(t("reqLang"))} ${esc(r.lang)}${r.email ? ` · ${esc(r.email)}` : ""}${r.resolution_hours != null ? ` · ${esc(t("reqResolvedIn", fmt(r.resolution_hours, 1)))}` : ""}</span></p>
    <section class="panel"><ol class="thread" id="req-thread">${(r.entries || []).map(entry).join("")}</ol></section>
    ${edit ? `<form class="panel" id="req-form"><div class="field"><label for="req-body">${esc(t("reqReply"))}</label><textarea id="req-body" rows="5" maxlength="10000"></textarea></div>
      <div class="controls">${select("req-status", t("reqStatus"), statuses.map((s) => [s, t("rstatus")[s]]), r.status)}
      <div class="field"><label for="req-assignee">${esc(t("reqAssignee"))}</label><input id="req-assignee" type="text" maxlength="254" value="${esc(r.assignee || "")}"></div>
      <div class="field"><button type="submit">${esc(t("reqSend"))}</button></div></div><p role="status" class="muted" id="req-out"></p></form>` : `<p class="muted">${esc(t("readOnly"))}</p>`}`;
  main.querySelector("#req-back").addEventListener("click", (e) => { e.preventDefault(); setParams({ request: null }); });
  main.querySelector("#req-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = main.querySelector("#req-out");
    const body = main.querySelector("#req-body").value.trim(), st = main.querySelector("#req-status").value, who = main.querySelector("#req-assignee").value.trim();
    const change = {};
    if (body) change.body = body;
    if (st !== r.status) change.status = st;
    if (who !== (r.assignee || "")) change.assignee = who;
    if (!Object.keys(change).length) { out.textContent = t("reqSaved"); return; }
    try {
      const done = await send("PATCH", `/api/requests/${r.id}`, change);
      out.textContent = done.email ? (t("reqMailed")[done.email] || done.email) : t("reqSaved");
      setTimeout(render, 900);
    } catch (err) { out.textContent = err.message; }
  });
}

// ---- Data health: volume, failed events, and the events arriving now ----------------------------
async function health(main) {
  const now = period(state.range);
  const [rows, failed, keys] = await Promise.all([api(`/api/volume?from=${now.from}&to=${now.to}&lang=${state.lang}`), api("/api/failed-events?limit=100"), can("admin") ? api("/api/keys") : null]);
  const byDay = {};
  for (const r of rows) { const d = (byDay[r.day] ??= { all: 0, tp: 0 }); d.all += r.events; if (r.touchpoint) d.tp += r.events; }
  const days = Object.keys(byDay).sort().reverse();
  const when = (ts) => new Date(ts).toLocaleString(state.lang, { dateStyle: "short", timeStyle: "medium" });
  main.innerHTML = `<h1>${esc(t("health"))}</h1>
    <section class="panel" aria-labelledby="he0"><h2 id="he0">${esc(t("liveTitle"))} <span class="muted" id="live-rate"></span></h2><p class="muted">${esc(t("liveHelp"))}</p>
      <ol class="timeline live" id="live-list" aria-live="polite"><li class="muted">${esc(t("liveWaiting"))}</li></ol></section>
    <section class="panel" aria-labelledby="he1"><h2 id="he1">${esc(t("failed"))} <span class="muted">${fmt(failed.items.length)}${failed.next ? "+" : ""}</span></h2><p class="muted">${esc(t("failedHelp"))}</p>
      ${failed.items.length ? `<div class="scroll"><table id="failed-table"><thead><tr><th>${esc(t("received"))}</th><th>${esc(t("source"))}</th><th>${esc(t("field"))}</th><th>${esc(t("reason"))}</th><th>${esc(t("raw"))}</th></tr></thead><tbody>
      ${failed.items.map((f) => `<tr><td>${esc(when(f.received_at))}</td><td>${esc(f.source)}</td><td><code>${esc(f.field)}</code></td><td>${esc(f.reason)}</td><td><details><summary>${fmt(f.raw.length)} B</summary><pre>${esc(f.raw.slice(0, 2000))}</pre></details></td></tr>`).join("")}</tbody></table></div>
      <div class="tools"><button class="quiet" id="csv-failed" type="button">${esc(t("csv"))}</button>${can("admin") ? `<button class="quiet danger" id="clear-failed" type="button">${esc(t("clearFailed"))}</button>` : ""}</div><p role="status" class="muted" id="failed-status"></p>` : `<p>${esc(t("noFailed"))}</p>`}</section>
    ${keys ? `<section class="panel" aria-labelledby="he3"><h2 id="he3">${esc(t("keys"))}</h2><p class="muted">${esc(t("keysHelp"))}</p>
      <div class="scroll"><table id="keys-table"><thead><tr><th>${esc(t("keyKind"))}</th><th>${esc(t("keyStart"))}</th><th class="date">${esc(t("since"))}</th><th><span class="vh">${esc(t("revokeKey"))}</span></th></tr></thead><tbody>
      ${keys.map((k) => `<tr><td>${esc(t("keyKinds")[k.kind] || k.kind)}</td><td><code>${esc(k.prefix)}…</code></td><td class="date">${esc(new Date(k.created_ms).toISOString().slice(0, 10))}</td><td><button class="quiet danger" type="button" data-revoke-key="${esc(String(k.id))}" data-prefix="${esc(k.prefix)}" aria-label="${esc(t("revokeKeyOf", k.prefix))}">${esc(t("revokeKey"))}</button></td></tr>`).join("")}</tbody></table></div>
      <div class="tools">${["write", "server", "secret"].map((k) => `<button class="quiet" type="button" data-key-kind="${k}">${esc(t("newKey", t("keyKinds")[k]))}</button>`).join("")}</div>
      <div role="status" id="new-key"></div></section>` : ""}
    <section class="panel" aria-labelledby="he2"><h2 id="he2">${esc(t("perDayOnly"))}</h2><div class="scroll"><table id="health-volume"><thead><tr><th>${esc(t("day"))}</th><th class="n">${esc(t("events"))}</th><th class="n">${esc(t("touchpointEvents"))}</th><th class="n">${esc(t("notTouchpoint"))}</th></tr></thead><tbody>
      ${days.map((d) => `<tr><td class="date">${d}</td><td class="n" data-v="${byDay[d].all}">${fmt(byDay[d].all)}</td><td class="n" data-v="${byDay[d].tp}">${fmt(byDay[d].tp)}</td><td class="n" data-v="${byDay[d].all - byDay[d].tp}">${fmt(byDay[d].all - byDay[d].tp)}</td></tr>`).join("") || `<tr><td colspan="4">${esc(t("noData"))}</td></tr>`}</tbody></table></div>${toolButtons("health", false)}</section>`;
  chartTools(main, "health", null, "#health-volume", `volume-${now.from}-${now.to}`);
  chartTools(main, "failed", null, "#failed-table", "failed-events");
  const { name } = await names();
  live((tick) => {
    const list = document.getElementById("live-list"), rate = document.getElementById("live-rate");
    if (!list) return;
    if (tick.off) { list.innerHTML = `<li class="notice">${esc(t("liveOff"))}</li>`; return; }
    if (tick.lagged) { list.insertAdjacentHTML("afterbegin", `<li class="notice">${esc(t("liveLagged", fmt(tick.lagged.missed_commits)))}</li>`); return; }
    rate.textContent = `${fmt(tick.events)} ${t("perSecond")}`;
    if (!tick.samples?.length) return;
    list.querySelector("li.muted:only-child")?.remove();
    // Samples come newest first.
    list.insertAdjacentHTML("afterbegin", tick.samples.map((x) => sampleItem(x, name)).join(""));
    while (list.children.length > 50) list.lastElementChild.remove();
  });
  main.querySelectorAll("[data-key-kind]").forEach((b) => b.addEventListener("click", async () => {
    const out = main.querySelector("#new-key");
    try { const r = await send("POST", "/api/keys", { kind: b.dataset.keyKind }); out.innerHTML = `<p>${esc(t("keyOnce"))}</p><p><code id="new-key-token">${esc(r.token)}</code></p>`; }
    catch (err) { out.textContent = err.message; }
  }));
  main.querySelectorAll("[data-revoke-key]").forEach((b) => b.addEventListener("click", async () => {
    const out = main.querySelector("#new-key");
    if (!confirm(t("revokeConfirm", b.dataset.prefix))) return;
    try { await send("DELETE", `/api/keys/${b.dataset.revokeKey}`); b.closest("tr").remove(); out.textContent = t("keyRevoked", b.dataset.prefix); }
    catch (err) { out.textContent = err.message; }
  }));
  main.querySelector("#clear-failed")?.addEventListener("click", async () => {
    if (!confirm(t("clearConfirm"))) return;
    try { const r = await send("DELETE", "/api/failed-events"); main.querySelector("#failed-status").textContent = t("cleared", r.deleted); } catch (err) { main.querySelector("#failed-status").textContent = err.message; }
  });
}

// ---- Your account: password, and (owners) colleagues ------------------------------------------
async function account(main) {
  const owner = role() === "owner";
  const people = owner ? await api(`/account/people?project=${encodeURIComponent(state.project)}`) : [];
  const field = (id, label, type, extra = "") => `<div class="field"><label for="${id}">${esc(label)}</label><input type="${type}" id="${id}" name="${id}" ${extra}></div>`;
  main.innerHTML = `<h1>${esc(t("account"))}</h1><p class="muted">${esc(boot.user.email)}</p>
    <form class="panel" id="pw-form" aria-labelledby="ac1"><h2 id="ac1">${esc(t("changePassword"))}</h2><div class="controls">
      ${field("current", t("currentPassword"), "password", 'autocomplete="current-password" required')}${field("new", t("newPassword"), "password", 'autocomplete="new-password" minlength="10" required')}
      ${field("again", t("repeatPassword"), "password", 'autocomplete="new-password" minlength="10" required')}<div class="field"><button type="submit">${esc(t("save"))}</button></div></div>
      <p role="status" class="muted"></p></form>
    ${owner ? `<form class="panel" id="invite-form" aria-labelledby="ac2"><h2 id="ac2">${esc(t("invite"))}</h2><p class="muted">${esc(t("inviteHelp"))}</p><div class="controls">
      ${field("invite-email", "E-mail", "email", 'autocomplete="off" required')}${select("invite-role", t("roleLabel"), ["viewer", "analyst", "owner"].map((r) => [r, t("roles")[r]]), "viewer")}
      <div class="field"><button type="submit">${esc(t("invite"))}</button></div></div><div role="status" id="invite-out"></div></form>
    <section class="panel" aria-labelledby="ac3"><h2 id="ac3">${esc(t("people"))}</h2><div class="scroll"><table id="people-table"><thead><tr><th>E-mail</th><th>${esc(t("roleLabel"))}</th><th></th></tr></thead><tbody>
      ${people.map((p) => `<tr><td>${esc(p.email)}</td><td>${esc(t("roles")[p.role] || p.role)}${p.every_project ? ` <span class="muted">(${esc(t("everyProject"))})</span>` : ""}</td><td class="muted">${p.has_password ? "" : esc(t("waiting"))}</td></tr>`).join("")}</tbody></table></div></section>` : ""}`;
  const pw = main.querySelector("#pw-form");
  pw.addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = pw.querySelector("[role=status]"), v = (n) => pw.elements.namedItem(n).value;
    if (v("new") !== v("again")) { out.textContent = t("mismatch"); return; }
    try { await send("POST", "/account/password", { current: v("current"), new: v("new") }); out.textContent = t("changed"); setTimeout(() => { location.href = "/login"; }, 1500); } catch (err) { out.textContent = err.message; }
  });
  main.querySelector("#invite-form")?.addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = e.target, out = f.querySelector("#invite-out");
    try {
      const r = await send("POST", "/account/invitations", { project: Number(state.project), email: f.elements.namedItem("invite-email").value.trim(), role: f.elements.namedItem("invite-role").value, lang: state.lang });
      const said = r.emailed ? t("inviteEmailed", r.email) : r.email_error ? `${t("inviteNotEmailed", r.email_error)} ${t("sendLink")}` : t("sendLink");
      out.innerHTML = r.link ? `<p>${esc(said)}</p><p><code id="invite-link">${esc(r.link)}</code></p>` : `<p>${esc(t("hadPassword"))}</p>`;
    } catch (err) { out.textContent = err.message; }
  });
}

// ---- The live stream: events as they are acknowledged (server-sent events) --------------------
let stream = null;
function live(onTick) {
  stream?.close();
  const mine = new EventSource(`/api/live?project=${encodeURIComponent(state.project)}`);
  stream = mine;
  mine.addEventListener("tick", (e) => { if (stream === mine) onTick(JSON.parse(e.data)); });
  mine.addEventListener("lagged", (e) => { if (stream === mine) onTick({ lagged: JSON.parse(e.data) }); });
  mine.onerror = () => { if (mine.readyState === EventSource.CLOSED && stream === mine) onTick({ off: true }); };
}
// One arriving event: when it was received, what it is, and who (a link to the profile).
const sampleItem = (x, name) => {
  const c = x.customer || {}, who = c.user_id || c.anonymous_id || (c.id ? `#${c.id}` : "");
  return `<li><time datetime="${new Date(x.received_ms).toISOString()}">${esc(new Date(x.received_ms).toLocaleTimeString(state.lang))}</time> <strong>${esc((x.touchpoint && name[x.touchpoint]) || x.name || x.type)}</strong>
  <span class="muted">${esc([x.type, x.channel].filter(Boolean).join(" · "))}</span>${c.id ? ` <a href="#project=${esc(state.project)}&view=customers&customer=${esc(c.id)}&lang=${state.lang}">${esc(who)}</a>` : ""}</li>`;
};

// ---- Rendering --------------------------------------------------------------------------
let generation = 0;
async function render() {
  header();
  const main = document.getElementById("view");
  const mine = ++generation;
  stream?.close(); stream = null;
  main.setAttribute("aria-busy", "true");
  try {
    const el = document.createElement("div");
    await ({ overview, journey, funnel, paths, retention, churn, attribution, listening, customers, catalog, surveys, triggers, selfservice, requests, health, account }[state.view] || overview)(el);
    if (mine !== generation) return;
    // Widths and colours set through the DOM: the Content-Security-Policy forbids inline
    // style attributes.
    el.querySelectorAll("[data-w]").forEach((x) => { x.style.width = `${x.dataset.w}%`; });
    el.querySelectorAll("[data-bg]").forEach((x) => { x.style.background = x.dataset.bg; });
    el.querySelectorAll("[data-fg]").forEach((x) => { x.style.color = x.dataset.fg; });
    // The view's own box goes in whole: its handlers find their elements through it.
    main.replaceChildren(el);
    focusableScrolls();
  } catch (e) {
    if (mine === generation) main.innerHTML = `<p class="notice" role="alert">${esc(t("error"))}: ${esc(e.message)}</p>`;
  } finally {
    if (mine === generation) main.removeAttribute("aria-busy");
  }
}
// A box that scrolls sideways (a wide table, the Sankey) can be reached with the keyboard
// and scrolled with the arrow keys; one that fits is not a stop on the way.
function focusableScrolls() {
  document.querySelectorAll("#view .scroll").forEach((x) => {
    if (x.scrollWidth > x.clientWidth + 1) x.setAttribute("tabindex", "0"); else x.removeAttribute("tabindex");
  });
}
// Charts are drawn for a width: drawn again when the window's width changes much — but
// not while an editor is open, whose unsaved text a redraw would throw away.
let drawnFor = chartWidth(), resizing = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizing);
  const editing = () => document.querySelector("#rule-editor, #kb-editor");
  resizing = setTimeout(() => { if (Math.abs(chartWidth() - drawnFor) > 40 && !editing()) { drawnFor = chartWidth(); render(); } else focusableScrolls(); }, 250);
});
render();
