"""What people write in an out-of-office reply, per language, each list with its source (data).

An out-of-office reply that carries none of the headers of RFC 3834 or of its vendor is
known by its words: the subject or the first lines of its body open with the name the
mail client gives the feature ("Automatische Antwort", "Fuori sede") or with the sentence
people write ("Ich bin nicht im Büro", "Je suis absent du bureau").

Each phrase is written once, lower-cased, with its diacritics; it also matches the same
words written without them, as old clients and hurried writers send them ("Reponse
automatique", "Ich bin nicht im Buero", "Otomatik yanit"): `intake.signals.text` folds
both sides with NFKD and spells ä, ö, ü, å, æ and ø both as the bare letter and as ae, oe,
ue, aa, ae and oe. A phrase ending in "*" is a stem: it matches the words that continue it
(German and Dutch compounds, Slavic and Finnish endings: "abwesenheit*" is
"Abwesenheitsnotiz" and "Abwesenheitsnachricht"). "…" stands for a few words (or, in
scripts without spaces, a few characters): German, Dutch and the Nordic languages put the
date before the rest ("Ich bin bis zum 5. Mai nicht im Büro"), Turkish puts the verb last.
Statements are in the first person of the wording their source uses ("when you are out of
the office" gives "I am out of the office"). Add a language, or a phrase, here with its
source; docs/classification.md lists the sources in full.
"""

from __future__ import annotations

from dataclasses import dataclass

# Microsoft's localised Outlook help, "Outlook Desktop: Send out-of-office replies"
# (MicrosoftDocs OfficeDocs-AlchemyInsights-pr.<locale>,
# AlchemyInsights/outlook-desktop-send-out-of-office-replies.md): the names of the
# Automatic Replies feature and of the Out of Office Assistant, and the sentence "type the
# response that you want to send ... while you are out of the office", in each locale.
OUTLOOK_HELP = "Microsoft's localised Outlook help (Automatic Replies, Out of Office Assistant)"
# Vamsoft ORF's list of localised Exchange out-of-office subjects
# (blog.vamsoft.com/2006/10/05/automatic-everything/).
VAMSOFT = "Vamsoft ORF's out-of-office subjects"


@dataclass(frozen=True)
class Language:
    code: str
    source: str
    phrases: tuple[str, ...]


LANGUAGES: tuple[Language, ...] = (
    Language(
        "en",
        "Outlook and Exchange; sisimai (Sisimai::Reason::Vacation); PHP-Bounce-Handler's "
        "autoresponder list; MAIF melusine's vacation-reply rule",
        ("automatic reply", "auto reply", "auto-reply", "autoreply", "auto response",
         "auto-response", "autoresponse", "out of office", "out of the office", "ooo",
         "vacation reply", "vacation response",
         "i am out of the office", "i am out of office", "i'm out of the office",
         "i'm out of office", "i am currently out of the office", "i am currently out of office",
         "i'm currently out of the office", "i'm currently out of office",
         "i am away", "i'm away", "i am currently away", "i'm currently away",
         "i am on vacation", "i'm on vacation", "i am currently on vacation",
         "i am on leave", "i'm on leave", "i am currently on leave"),
    ),
    Language(
        "de",
        f"{OUTLOOK_HELP} de-DE; {VAMSOFT}; Lotus Notes (\"ist außer Haus\"); "
        "OTRS's German (\"nicht im Büro\")",
        ("automatische antwort", "abwesenheit*", "abwesend", "außer haus", "nicht im büro",
         "ich bin … nicht im büro", "ich bin … außer haus", "ich bin … abwesend"),
    ),
    Language(
        "fr",
        f"{OUTLOOK_HELP} fr-FR; {VAMSOFT}; MAIF melusine's vacation-reply rule",
        ("réponse automatique", "absence du bureau", "absent du bureau", "absente du bureau",
         "à l'extérieur du bureau", "je suis … absent", "je suis … absente", "je suis … en congé*",
         "ceci est une réponse automatique"),
    ),
    Language(
        "es",
        f"{OUTLOOK_HELP} es-ES; {VAMSOFT}",
        ("respuesta automática", "fuera de la oficina", "fuera de oficina",
         "ausencia de la oficina", "estoy … fuera de la oficina", "estoy … fuera de oficina",
         "me encuentro … fuera de la oficina"),
    ),
    Language(
        "pt",
        f"{OUTLOOK_HELP} pt-PT and pt-BR; {VAMSOFT}",
        ("resposta automática", "fora do escritório", "ausência do escritório",
         "ausência temporária", "estou … fora do escritório", "encontro-me … fora do escritório",
         "estou … ausente"),
    ),
    Language(
        "it",
        f"{OUTLOOK_HELP} it-IT",
        ("risposta automatica", "fuori sede", "sono … fuori sede"),
    ),
    Language(
        "nl",
        f"{OUTLOOK_HELP} nl-NL; the filter list at gist.github.com/wesbos (\"niet aanwezig\")",
        ("automatisch antwoord", "afwezigheid*", "afwezig", "niet aanwezig", "ik ben … afwezig",
         "ik ben … niet aanwezig"),
    ),
    Language(
        "sv",
        f"{OUTLOOK_HELP} sv-SE",
        ("automatiskt svar", "autosvar", "frånvaro*", "inte på kontoret",
         "jag är … inte på kontoret", "jag är … frånvarande"),
    ),
    Language(
        "nb",
        f"{OUTLOOK_HELP} nb-NO",
        ("automatisk svar", "autosvar", "fravær*", "borte fra kontoret",
         "jeg er … borte fra kontoret"),
    ),
    Language(
        "da",
        f"{OUTLOOK_HELP} da-DK; {VAMSOFT} (\"Autosvar – Ikke til stede\")",
        ("autosvar", "automatisk svar", "fravær*", "ikke til stede", "jeg er … fraværende",
         "jeg er … ikke til stede"),
    ),
    Language(
        "fi",
        f"{OUTLOOK_HELP} fi-FI; Microsoft's Finnish documentation (\"poissa toimistolta\")",
        ("automaattinen vastaus", "poissaolo*", "poissa toimistolta", "olen … poissa"),
    ),
    Language(
        "pl",
        f"{OUTLOOK_HELP} pl-PL; {VAMSOFT} (\"Autoodpowiedź (poza biurem)\"); the Polish "
        "auto-reply in Mail-DeliveryStatus-BounceParser's corpus",
        ("odpowiedź automatyczna", "automatyczna odpowiedź", "autoodpowiedź", "poza biurem",
         "jestem … poza biurem", "nieobecno*", "jestem … nieobecn*"),
    ),
    Language(
        "cs",
        f"{OUTLOOK_HELP} cs-CZ",
        ("automatická odpověď", "mimo kancelář", "jsem … mimo kancelář", "nepřítomnost*"),
    ),
    Language(
        "sk",
        f"{OUTLOOK_HELP} sk-SK",
        ("automatická odpoveď", "mimo pracoviska", "mimo kancelárie", "som … mimo pracoviska",
         "som … mimo kancelárie", "neprítomnost*"),
    ),
    Language(
        "hu",
        f"{OUTLOOK_HELP} hu-HU; {VAMSOFT} (\"Házon kívüli automatikus válasz\")",
        ("automatikus válasz", "… házon kívül*", "távollét*"),
    ),
    Language(
        "ro",
        f"{OUTLOOK_HELP} ro-RO",
        ("răspuns automat", "răspunsuri automate", "absent de la birou",
         "absentă de la birou", "sunt … absent", "sunt … absentă"),
    ),
    Language(
        "tr",
        f"{OUTLOOK_HELP} tr-TR; Microsoft's Turkish documentation (\"Ofis dışında\")",
        ("otomatik yanıt*", "otomatik cevap", "… iş yeri dışında*", "… ofis dışında*"),
    ),
    Language(
        "ru",
        f"{OUTLOOK_HELP} ru-RU; {VAMSOFT} (\"Автоответ при отсутствии на работе\")",
        ("автоматический ответ", "автоответ*", "отсутствие на рабочем месте",
         "меня … нет на рабочем месте", "я … отсутствую"),
    ),
    Language(
        "ja",
        f"{OUTLOOK_HELP} ja-JP; {VAMSOFT} (\"不在時の自動応答\"); the filter list at "
        "gist.github.com/wesbos (\"自動返信\")",
        ("自動応答", "自動返信", "…不在"),
    ),
    Language(
        "zh",
        f"{OUTLOOK_HELP} zh-CN and zh-TW; {VAMSOFT}; PHP-Bounce-Handler (\"自动回复\", "
        "sino.com and 163.com)",
        ("自动答复", "自动回复", "外出", "…不在办公室", "自動回覆", "自動回復", "…不在辦公室",
         "郵件答錄機"),
    ),
    Language(
        "el",
        "the filter list at gist.github.com/wesbos",
        ("αυτόματη απάντηση", "εκτός γραφείου"),
    ),
)  # fmt: skip
