# Deutsch. Du-Form, kurze Knöpfe. Die Nachrichten-IDs sind in allen Sprachen gleich; was hier
# fehlt, erscheint auf Englisch (`toogoodtogo-bot texts --check` listet es).

## Texte ohne Variablen.

role-customer = 🛒 Ich will Essen retten
role-business = 🏪 Ich bin ein Betrieb
help =
    Too Good To Go hilft Läden und Restaurants, übrig gebliebenes Essen günstig zu verkaufen, statt es wegzuwerfen.

    Befehle:
    /start – wähle, ob du Essen rettest oder anbietest
    /help – diese Nachricht
    /privacy – was der Bot über dich speichert
    /delete_my_data – deine persönlichen Daten löschen

    Für Kundinnen und Kunden:
    /browse – Angebote in der Nähe, alle Angebote, bald endend
    /my_reservations – deine Abholungen und Codes
    /favourites – Läden, denen du folgst
    /settings – Hinweise, Ruhezeiten, Umkreis, Sprache

    Für Betriebe:
    /register_business – als Betrieb Essen anbieten
    /newdeal – ein Angebot einstellen
    /myoffers – deine Angebote pausieren, ändern oder beenden
    /pickup – eine Abholung mit dem Code bestätigen
    /invite_staff – Mitarbeitende deine Angebote verwalten lassen
    /staff – deine Mitarbeitenden und offenen Einladungslinks (Inhaber)

    Rollen: Mitarbeitende stellen Angebote ein, verwalten sie und bestätigen Abholungen; nur der Inhaber erstattet Geld, beendet Angebote mit bezahlten Reservierungen, ändert den Betrieb und lädt Mitarbeitende ein oder entfernt sie.

    Kundinnen und Kunden finden Angebote in der Nähe, reservieren und holen im Abholfenster ab. Betriebe stellen ein Angebot in unter zwei Minuten ein.
privacy =
    Was der Bot über dich speichert:
    • deine Telegram-ID, Vor- und Nachname, Benutzernamen und Sprache, und wann du dem Bot zuerst und zuletzt geschrieben hast;
    • die Nachrichten, die du dem Bot schickst, 7 Tage lang, damit bei einem Neustart keine verloren geht;
    • Antworten eines nicht abgeschlossenen Dialogs, bis du ihn beendest oder abbrichst;
    • den Standort, den du für Angebote in der Nähe teilst, deine /settings und Lieblingsläden;
    • deine Reservierungen und Bewertungen, die die Läden für Abholung und Bezahlung brauchen (der Laden sieht deinen Namen bei einer Reservierung);
    • wenn dir ein Betrieb gehört oder du für einen arbeitest: die Angaben des Betriebs und wer für ihn handelt.

    Zahlungen laufen über Telegram und Stripe; der Bot speichert nur die Zahlungs-IDs und Beträge. Nichts anderes wird an Dritte weitergegeben.

    /delete_my_data löscht deinen Namen, Benutzernamen, deine Sprache, deinen gespeicherten Standort, deine Einstellungen, Favoriten, Bewertungskommentare und offenen Dialoge; verwirft Nachrichten, die noch an dich gehen sollten; ersetzt deinen Namen in Nachrichten an Läden und in ihren Reservierungslisten durch den Hinweis, dass du deine Daten gelöscht hast; beendet deine Mitarbeit in Betrieben; und leert die Details der Protokolleinträge zu deinen Einstellungen, deinem Standort, deinen Favoriten und Bewertungen.

    Was bleibt, und wie lange:
    • deine Telegram-ID, ohne Namen, damit die Einträge unten stimmig bleiben (schreibst du dem Bot wieder, wird dein Name neu gespeichert);
    • Reservierungen, Zahlungen, Erstattungen und Sterne-Bewertungen, ohne deinen Namen: sie sind die Buchhaltung der Bestellungen und bleiben;
    • Betriebe, die dir gehören, mit Name, Adresse, Telefon und Logo: das sind Daten des Betriebs, nicht deine, und sie bleiben, bis der Betrieb geschlossen wird;
    • Protokolleinträge, was wann geschah (ohne die Details oben), 90 Tage lang; die zu Bestellungen und Geld behalten Status und Beträge;
    • die Nachrichten der letzten 7 Tage von dir und an dich, bis sie nach 7 Tagen gelöscht werden.
delete-confirm = Deine persönlichen Daten löschen? Name, Benutzername, Sprache, gespeicherter Standort, Einstellungen, Favoriten und Bewertungskommentare werden entfernt, offene Dialoge und wartende Benachrichtigungen verworfen, dein Name wird aus Nachrichten an Läden entfernt und deine Mitarbeit in Betrieben endet. Reservierungen, Zahlungen und Betriebe, die dir gehören, bleiben als Belege (siehe /privacy). Das lässt sich nicht rückgängig machen.
delete-confirm-yes = Ja, Daten löschen
delete-confirm-no = Nein, behalten
delete-done = Erledigt: deine persönlichen Daten sind gelöscht.
delete-cancelled = Es wurde nichts gelöscht.
delete-nothing = Über dich ist nichts gespeichert.
unknown-command = Diesen Befehl kenne ich nicht. /help zeigt, was ich kann.
free-text = Ich verstehe Befehle und Knöpfe. Mit /start geht's los, /help zeigt alles, was ich kann.
unsupported-update = Mit dieser Art Nachricht kann ich noch nichts anfangen. /help zeigt, was ich kann.
slow-down = Du schreibst schneller, als ich hinterherkomme. Mach bitte kurz langsamer und versuch es in einer Minute wieder.
button-no-longer-valid = Dieser Knopf gilt nicht mehr.
deep-link-unknown = Dieser Link ist (nicht mehr) gültig. Hier geht's stattdessen los:
customer-chosen = Super, willkommen! 🛒 /browse findet Angebote, /my_reservations zeigt deine Abholungen, /favourites die Läden, denen du folgst.
business-chosen = Willkommen! 🏪 Betriebe bieten übrig gebliebenes Essen als Angebote für Leute in der Nähe an. /help zeigt, was du tun kannst.
something-went-wrong = Bei uns ist etwas schiefgelaufen. Versuch es bitte gleich noch einmal.
private-chat-only-notice = Ich arbeite nur in privaten Chats: öffne mich über mein Profil.

## Formate: strftime-Muster von chrono mit den Tages- und Monatsnamen dieser Sprache.

# Die POSIX-Locale für Tages- und Monatsnamen und Zahlentrennzeichen.
locale = de_DE
# Der Name dieser Sprache in ihr selbst, wie die Spracheinstellung ihn zeigt.
language-name = Deutsch
format-time = %H:%M
format-weekday-date = %a., %-d. %b.
format-day-month = %-d. %b.
format-date-time = %-d. %b. %Y, %H:%M
# Ein Geldbetrag: $amount ist schon formatiert, $currency der ISO-Code (EUR).
money =
    { $amount } { $currency ->
        [EUR] €
        [USD] $
        [GBP] £
        [CHF] CHF
       *[other] { $currency }
    }

## Befehle im Telegram-Menü (höchstens 256 Zeichen).

command-browse = Angebote in deiner Nähe finden
command-my-reservations = Deine Reservierungen und Abholcodes
command-favourites = Läden, denen du folgst
command-settings = Hinweise, Ruhezeiten, Umkreis, Sprache und deine Betriebe
command-start = Wähle, ob du Essen rettest oder anbietest
command-help = Was dieser Bot kann
command-privacy = Was der Bot über dich speichert
command-delete-my-data = Deine persönlichen Daten löschen
command-register-business = Als Betrieb Essen anbieten
command-newdeal = Ein Angebot einstellen
command-myoffers = Deine Angebote pausieren, ändern oder beenden
command-pickup = Eine Abholung mit dem Code bestätigen
command-invite-staff = Mitarbeitende deine Angebote verwalten lassen
command-staff = Deine Mitarbeitenden und offenen Einladungslinks
command-pending = Anmeldungen, die auf Freigabe warten

## Felder der Dialoge, und was an einer Antwort nicht stimmt.

field-business-name = Name des Betriebs
field-street = Straße und Hausnummer
field-city = Ort
field-postal-code = Postleitzahl
field-phone = Telefon
field-logo = Logo
field-location = Standort
field-category = Kategorie
field-title = Titel
field-description = Beschreibung
field-photo = Foto
field-pickup-window = Abholfenster
field-units = Stückzahl
field-price = Preis pro Stück
field-original-value = Ursprünglicher Wert
field-rejection-reason = Grund
example-business-name = Bäckerei Ada
example-street = Hauptstraße 12
example-city = Berlin
example-postal-code = 10115
example-phone = +49 30 1234567
example-logo = schick ein Foto oder tipp auf Überspringen
example-location = tipp auf „📍 Standort teilen“ oder häng einen Standort an
example-category = Bäckerei
example-title = Überraschungstüte
example-description = Brot und Gebäck vom Tag
example-photo = schick ein Foto oder tipp auf Überspringen
example-pickup-window = heute 18:00-20:00
example-units = 5
example-price = 4,50
example-original-value = 12,00
example-rejection-reason = Die Adresse ließ sich nicht prüfen
problem-length = muss { $min } bis { $max } Zeichen lang sein
problem-format-street = braucht den Straßennamen und die Hausnummer
problem-format-pickup-window = muss ein Tag und eine Uhrzeitspanne sein (heute, morgen oder ein Datum wie 30.11.)
problem-format-units = muss eine ganze Zahl sein
problem-format-amount = muss ein Betrag wie 4 oder 4,50 sein
problem-format-category = muss einer der Knöpfe unten sein
problem-format = hat eine Form, die ich nicht verstehe
problem-not-positive = muss größer als null sein
problem-not-below-original = der Preis muss unter dem ursprünglichen Wert liegen
problem-ends-before-start = muss nach dem Beginn enden
problem-already-ended = ist schon vorbei; wähl eine Zeit in der Zukunft
problem-too-far-ahead = darf höchstens 48 Stunden ab jetzt enden
problem-too-large = ist größer als erlaubt
problem-outside-invoice-limits = muss zwischen { $min } und { $max } liegen, damit im Chat bezahlt werden kann (Telegrams Grenzen); für weniger nimm in /settings auch Zahlung an der Theke an
invalid =
    ⚠️ { $field }: { $problem }.
    Zum Beispiel: { $example }

## Kategorien: das Label ist ein Knopf; das Wort nach dem Emoji darf man auch tippen.

category-ready-meals = 🍱 Fertiggerichte
category-bakery = 🥐 Bäckerei
category-produce = 🥕 Obst & Gemüse
category-groceries = 🛒 Lebensmittel
category-other = 📦 Sonstiges

## Anmeldung und Prüfung durch Admins.

value-none = keins
value-yes = ja
registration-summary =
    Bitte prüf deinen Betrieb:

    Name: { $name }
    Adresse: { $street }, { $postcode } { $city }
    Telefon: { $phone }
    Logo: { $logo }
    Standort: { $location }

    Zur Freigabe einreichen? Ein Admin prüft jeden Betrieb, bevor er Angebote einstellen kann.
submitted = ✅ { $name } ist zur Freigabe eingereicht. Du bekommst hier eine Nachricht, sobald ein Admin draufgeschaut hat.
business-facts =
    { $name } (#{ $id })
    { $street }, { $postcode } { $city }
    Telefon: { $phone }
    Standort: { $location }
new-application =
    🆕 Neue Anmeldung eines Betriebs:

    { $facts }
match-approved = freigegeben
match-suspended = gesperrt
match-pending = wartet auch auf Freigabe
match-rejected = abgelehnt
same-name-and-address =
    ⚠️ Gleicher Name und gleiche Adresse wie:
    { $others }

    Vergleich sie: nur einer kann freigegeben werden.
submitted-for-comparison = ✅ { $name } ist zur Freigabe eingereicht. Die Prüfung läuft: ein Admin vergleicht ihn mit einem anderen Betrieb mit gleichem Namen und gleicher Adresse. Du bekommst hier eine Nachricht, sobald entschieden ist.
application-expiring = ⏳ Deine Anmeldung für { $name } wartet seit 13 Tagen auf einen Admin. Wird bis morgen nicht entschieden, verfällt sie; dann kannst du dich mit /register_business neu anmelden.
private-chat-only = 👋 Ich arbeite nur in privaten Chats, damit Reservierungen und Abholcodes privat bleiben. Schreib mir hier: { $link }
payments-attention-heading = 💳 Zahlungen, die Aufmerksamkeit brauchen: { $count }
payer-unknown = unbekannt
order-number = Bestellung #{ $id }
no-order = keine Bestellung
refund-failed-with-error = Erstattung FEHLGESCHLAGEN: { $error }
refund-failed-state = Erstattung FEHLGESCHLAGEN
refund-state = Erstattung { $status }
no-refund = keine Erstattung
payment-needing-attention =
    Zahlung { $id }: { $total } von { $payer }, { $order }
    Charge { $charge }
    { $state }
application =
    Wartet auf Freigabe:

    { $facts }
decision-approved = ✅ Freigegeben
decision-rejected = ❌ Abgelehnt
decision-suspended = ⏸ Gesperrt (seine Angebote sind pausiert)
decision-pending = Offen
decision-done = { $outcome }: { $facts }
decision-reinstated = ✅ { $name } ist wieder aktiv. Deine Angebote bleiben pausiert, bis du sie in /myoffers fortsetzt.
decision-approved-notice = 🎉 { $name } ist freigegeben! Du kannst jetzt dein erstes Angebot einstellen (oder jederzeit mit /newdeal).
decision-rejected-notice =
    Leider wurde { $name } nicht freigegeben.
    Grund: { $reason }

    Du kannst die Angaben korrigieren und dich mit /register_business neu anmelden.
decision-suspended-notice = ⏸ { $name } wurde von einem Admin gesperrt. Die Angebote sind pausiert und für Kundschaft unsichtbar, bis der Betrieb wieder freigeschaltet ist.
decision-pending-notice = { $name } wartet auf Freigabe.

## Angebote.

ask-window =
    Wann kann abgeholt werden? Schick den Tag und die Uhrzeitspanne (Zeitzone { $timezone }), z. B.
    • heute 18:00-20:00
    • morgen 8:00-10:30
    • 30.11. 17:00-19:00
    Es muss innerhalb der nächsten 48 Stunden enden.
ask-price = Preis pro Stück in { $currency }? Zum Beispiel: 4,50
ask-original = Was ist es normalerweise wert, in { $currency }? („Wert 12 { $currency }, für dich 4 { $currency }“) Zum Beispiel: 12,00 – oder tipp auf Überspringen.
deal-preview =
    So sieht die Kundschaft dein Angebot:

    { $card }
published =
    ✅ Dein Angebot ist online!

    { $card }
customer-view =
    👀 So sieht die Kundschaft es:

    { $card }
share =
    Teil „{ $title }“ mit diesem Link:
    { $link }
end-no-reservations = Es hat keine offenen Reservierungen.
end-cancels =
    { $live ->
        [one] Die offene Reservierung wird storniert und die Kundschaft benachrichtigt.
       *[other] Die { $live } offenen Reservierungen werden storniert und die Kundschaft benachrichtigt.
    }
end-cancels-and-refunds =
    { $live ->
        [one] Die offene Reservierung wird storniert und die Kundschaft benachrichtigt;
       *[other] Die { $live } offenen Reservierungen werden storniert und die Kundschaft benachrichtigt;
    } { $paid ->
        [one] die bezahlte wird voll erstattet.
       *[other] die { $paid } bezahlten werden voll erstattet.
    }
end-confirm = „{ $title }“ jetzt beenden? Dann kann niemand mehr reservieren. { $reservations } Das lässt sich nicht rückgängig machen.
window-locked =
    ⚠️ { $live ->
        [one] Jemand hat
       *[other] { $live } Leute haben
    } für das aktuelle Abholfenster reserviert, daher kann es nur erweitert werden (früher beginnen oder später enden), nicht verschoben oder verkürzt. Um das Angebot zu stoppen, beende es: offene Reservierungen werden dann storniert und bezahlte erstattet.
which-offer-field = Was möchtest du an „{ $title }“ ändern?
offer-updated =
    ✅ Geändert.

    { $card }
not-in-state = Nicht möglich: dieses Angebot ist { $state }.
offer-state-live = online
offer-state-paused = pausiert
offer-state-sold-out = ausverkauft
offer-state-expired = vorbei (Abholfenster beendet)
offer-state-ended = beendet
state-changed-live = ▶️ Wieder online
state-changed-paused = ⏸ Pausiert
state-changed-sold-out = Ausverkauft
state-changed-ended = ⏹ Beendet
card-state-live = 🟢 Online
card-state-paused = ⏸ Pausiert
card-state-sold-out = 🔴 Ausverkauft
card-state-expired = ⚪️ Abgelaufen
card-state-ended-early = ⚪️ Vorzeitig beendet
card-price-with-original = Wert { $original }, für dich { $price }
card-pickup-today = Abholung heute { $from }–{ $to }
card-pickup-tomorrow = Abholung morgen { $from }–{ $to }
card-pickup-on = Abholung { $date } { $from }–{ $to }
card-units = noch { $units }
expired-summary =
    ⏹ Das Abholfenster von „{ $title }“ ist vorbei.
    Reserviert: { $reserved } · abgeholt: { $picked_up } · nicht reserviert: { $left }.
    Stell das nächste Angebot mit /newdeal ein.

## Mitarbeitende.

staff-invite =
    Schick diesen Link der Person, die Angebote von { $business } verwalten soll. Er funktioniert einmal und { $hours } Stunden lang:
    { $link }
staff-joined = 👋 Du verwaltest jetzt Angebote von { $business }: /newdeal stellt eins ein, /myoffers listet sie.
staff-joined-owner-notice = { $who } ist jetzt Mitarbeiter*in bei { $business }.

## Start.

greeting-anonymous = du
greeting =
    Hallo { $name }! 🥐 Too Good To Go rettet übrig gebliebenes Essen: Läden und Restaurants stellen günstige Angebote ein, du reservierst und holst vor Ladenschluss ab.

    Willst du Essen retten oder anbieten?
