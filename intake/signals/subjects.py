"""Subject lines that machines write: auto-replies, delivery notices and reports (data).

Each list says where its entries come from. Prefixes are matched at the start of the
subject (after any `Re:`/`Fwd:`) and followed by a colon or by nothing; phrases anywhere in
it; both without regard to case or diacritics. Add a product here, with its source, rather
than a pattern in the code; what people write in their own out-of-office replies is in
`intake.signals.phrases`.
"""

from __future__ import annotations

# The prefix Outlook and Exchange (Microsoft 365) put before the original subject of an
# automatic reply, in the display languages Outlook ships ("Automatic reply:", from
# Microsoft's own localised term), with the legacy "Out of Office AutoReply:" and
# "Out of Office:" of Exchange 2003-2007 (listed by ezmlm-weed(1)). What people write in
# their own out-of-office subjects, per language, is in `intake.signals.phrases`; both
# lists are matched with and without diacritics ("Reponse automatique:").
AUTO_REPLY_PREFIXES: tuple[str, ...] = (
    # English: Outlook, Exchange, ezmlm-weed(1), the sisimai RFC 3834 detector.
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "out of office autoreply",
    "out of office",
    # RFC 5230 4.5: a Sieve vacation reply without its own subject is "Auto: " + subject;
    # Lotus Notes writes "AUTO: <name> is out of the office" (sisimai RFC 3834 detector).
    "auto",
    "automatische antwort",  # de
    "réponse automatique",  # fr
    "respuesta automática",  # es
    "risposta automatica",  # it
    "resposta automática",  # pt, gl
    "resposta automàtica",  # ca
    "automatisch antwoord",  # nl
    "automatiskt svar",  # sv
    "automatisk svar",  # da, nb
    "autosvar",  # sv, da, nb
    "automaattinen vastaus",  # fi
    "odpowiedź automatyczna",  # pl
    "automatická odpověď",  # cs
    "automatická odpoveď",  # sk
    "automatikus válasz",  # hu
    "răspuns automat",  # ro
    "automatski odgovor",  # hr, sr-Latn, bs
    "samodejni odgovor",  # sl
    "automaatvastus",  # et
    "automātiskā atbilde",  # lv
    "automatinis atsakymas",  # lt
    "otomatik yanıt",  # tr
    "αυτόματη απάντηση",  # el
    "автоматический ответ",  # ru
    "автоматична відповідь",  # uk
    "автоматичен отговор",  # bg
    "аутоматски одговор",  # sr-Cyrl
    "תשובה אוטומטית",  # he
    "رد تلقائي",  # ar
    "پاسخ خودکار",  # fa
    "स्वचालित उत्तर",  # hi
    "ตอบกลับอัตโนมัติ",  # th
    "trả lời tự động",  # vi
    "balasan otomatis",  # id
    "balasan automatik",  # ms
    "自動応答",  # ja
    "自动答复",  # zh-CN
    "自動回覆",  # zh-TW
    "자동 회신",  # ko
    "자동 응답",  # ko
)

# Phrases anywhere in the subject: Lotus Notes names the person away ("AUTO: Ann Lee is
# out of the office (returning 05/01/2027)"), and Amazon's and KANA's responders say it
# (ezmlm-weed(1)).
AUTO_REPLY_PHRASES: tuple[str, ...] = (
    "is out of the office",
    "ist außer haus",
    "autoresponse -",
)

# Outlook's recall request: "Recall: <subject>", sent when a sender recalls a message.
RECALL_PREFIXES: tuple[str, ...] = ("recall",)

# Thunderbird's read receipt: "Return Receipt (displayed) - <subject>" (an RFC 8098 MDN).
RECEIPT_PHRASES: tuple[str, ...] = ("return receipt (",)

# Delivery notices (failures, delays and successes), matched as words at the start: the
# English forms of sendmail, Postfix, Exim, qmail, Exchange, GroupWise and Notes as
# ezmlm-weed(1) and the bounce parsers list them; "Undeliverable:", "Delivered:" and
# "Relayed:" are Exchange's non-delivery, delivery and relay receipts, with Exchange's
# localised non-delivery prefix.
DELIVERY_PREFIXES: tuple[str, ...] = (
    "undeliverable",
    "undelivered mail",
    "undeliverable mail",
    "nondeliverable mail",
    "non-delivery",
    "non delivery",
    "delivery status notification",
    "delivery notification",
    "delivery failure",
    "delivery has failed",
    "delivery delayed",
    "delayed mail",
    "mail delivery failed",
    "mail delivery failure",
    "message delivery failure",
    "mail system error",
    "returned mail",
    "failure notice",
    "warning: could not send message",
    "could not send message",
    "deferral notice",
    "success notice",
    "message status - delivered",
    "message status - opened",
    "delivered:",
    "relayed:",
    "unzustellbar",  # de
    "nicht zustellbar",  # de
    "non remis",  # fr
    "no se puede entregar",  # es
    "non recapitabile",  # it
    "onbestelbaar",  # nl
)

# Reports about mail the intake never sent: Microsoft's junk-mail reporting programme
# (JMRP) writes "complaint about message from <ip>"; RFC 7489 7.2.1.1 (DMARC aggregate) and
# RFC 8460 5.3 (SMTP TLS reporting) give the subject "Report Domain: ... Submitter: ...".
REPORT_PHRASES: tuple[str, ...] = (
    "complaint about message from",
    "report domain:",
    "dmarc failure report",
    "dmarc forensic report",
    "dmarc aggregate report",
)
