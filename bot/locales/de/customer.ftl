# Deutsch: Texte der Kundschaft (Stöbern, Reservieren, Abholen, Favoriten, Bewertungen,
# Einstellungen).

## Texte ohne Variablen.

cust-browse-intro = 🔎 Was suchst du? Angebote sind nach Entfernung sortiert, dann nach dem Ende ihres Abholfensters.
cust-all-deals-button = 🛍 Alle Angebote
cust-ending-soon-button = ⏰ Endet bald
cust-set-location-button = 📍 Standort festlegen
cust-change-location-button = 📍 Standort ändern
cust-share-location-button = 📍 Standort teilen
cust-ask-location = Um Angebote in deiner Nähe zu finden, brauche ich einmal deinen Standort: tipp unten auf „📍 Standort teilen“ (oder häng einen Standort an). Du kannst ihn jederzeit in /settings ändern.
cust-location-saved = 📍 Standort gespeichert. Das gibt es in deiner Nähe:
cust-nothing-at-all = Gerade lässt sich kein Angebot reservieren. Füg Läden zu /favourites hinzu, dann erfährst du sofort, wenn sie eins einstellen.
cust-nothing-ending-soon = In den nächsten zwei Stunden endet nichts. Schau bei Alle Angebote.
cust-back-to-filters-button = 🔙 Zu den Filtern
cust-back-to-results-button = ⬅️ Zur Liste
cust-prev-button = ⬅️ Zurück
cust-next-button = Weiter ➡️
cust-details-button = ℹ️ Details
cust-browse-button = 🔎 Angebote ansehen
cust-offer-not-found = Dieses Angebot gibt es nicht (mehr).
cust-reserve-button = 🛒 Reservieren
cust-back-button = ⬅️ Zurück
cust-own-offer = Das ist ein Angebot deines eigenen Betriebs: reservieren kann es die Kundschaft.
cust-not-reservable-notice = Dieses Angebot lässt sich gerade nicht reservieren.
cust-reserved-notice = Reserviert ✅
cust-last-unit-taken = Das war das letzte Stück, und jemand hat es gerade reserviert.
cust-cancel-reservation-button = ❌ Stornieren
cust-no-reservations = Du hast noch keine Reservierungen. /browse findet Angebote in deiner Nähe.
cust-past-reservations = 🗂 Frühere Reservierungen:
cust-not-your-reservation = Diese Reservierung gehört nicht dir.
cust-cancel-confirm-button = Ja, stornieren
cust-keep-button = Nein, behalten
cust-cannot-cancel-after-window = Das Abholfenster ist vorbei: diese Reservierung lässt sich nicht mehr stornieren.
cust-cancelled-notice = Reservierung storniert.
cust-add-favourite-button = ⭐ Zu Favoriten
cust-remove-favourite-button = 💔 Aus Favoriten entfernen
cust-favourite-added = Zu den Favoriten hinzugefügt: du erfährst, wenn der Laden ein Angebot einstellt.
cust-favourite-removed = Aus den Favoriten entfernt.
cust-no-favourites = Noch keine Favoriten. Öffne die Details eines Angebots und tipp auf „⭐ Zu Favoriten“, dann erfährst du sofort, wenn der Laden ein Angebot einstellt.
cust-favourites-title = ⭐ Deine Favoriten – du bekommst einen Hinweis, wenn sie ein Angebot einstellen:
cust-view-deal-button = 👀 Angebot ansehen
cust-already-rated = Du hast diese Abholung schon bewertet. Danke!
cust-rate-after-pickup = Bewerten kannst du, sobald du deine Bestellung abgeholt hast.
cust-rated-notice = Danke fürs Bewerten!
cust-comment-skipped = Danke! Deine Bewertung ist gespeichert.
cust-comment-expected = Schick deinen Kommentar als Text, oder /skip.
cust-comment-saved = Danke! Dein Kommentar ist gespeichert.
cust-settings-title = ⚙️ Einstellungen
cust-business-section = 🏪 Deine Betriebe
cust-admin-section = 🛡 Admin: /pending zeigt Anmeldungen, die auf Freigabe warten.
cust-notifications-on-button = 🔔 Hinweise an
cust-notifications-off-button = 🔕 Hinweise aus
cust-quiet-hours-button = 🌙 Ruhezeiten
cust-quiet-off-button = Keine Ruhezeiten
cust-radius-button = 📏 Umkreis
cust-ask-radius = Wie weit dürfen Angebote in der Nähe entfernt sein?
cust-saved = Gespeichert ✅
cust-back-to-settings-button = ⬅️ Zu den Einstellungen
cust-pickup-prompt = Schick mir den Abholcode der Kundin oder des Kunden (6 Zeichen, z. B. K7M2QX) oder leite ihre Bestätigung weiter.
cust-reservations-button = 📋 Reservierungen
cust-refund-confirm-button = Ja, erstatten
cust-not-refundable = Nur bezahlte Bestellungen lassen sich erstatten, und nur einmal.
cust-no-reservations-for-offer = Für dieses Angebot gibt es noch keine Reservierungen.

## Texte mit Variablen.

cust-nearby-button = 📍 In der Nähe ({ $radius } km)
cust-nothing-nearby = Gerade keine Angebote im Umkreis von { $radius } km. Versuch einen größeren Umkreis in /settings, alle Angebote, oder füg Läden zu /favourites hinzu, dann erfährst du sofort, wenn sie eins einstellen.
cust-position = Angebot { $n } von { $total }
cust-away = { $distance } entfernt
cust-full-address = 📍 { $street }, { $postcode } { $city }
cust-not-reservable-paused = ⏸ Der Laden hat dieses Angebot pausiert: es lässt sich gerade nicht reservieren.
cust-not-reservable-sold-out = 🔴 Ausverkauft: alles ist reserviert.
cust-not-reservable-window-ended = ⚪️ Das Abholfenster ist vorbei.
cust-not-reservable-ended-early = ⚪️ Der Laden hat dieses Angebot beendet.
cust-cap-reached = Du kannst höchstens { $cap } Stück eines Angebots reservieren.
cust-only-left = Nur noch { $left } übrig: wähl bitte neu.
cust-pay-on-site = Bezahlt wird bei der Abholung im Laden.
cust-pay-in-app = Bezahl jetzt im Chat.
cust-pay-either = Bezahl jetzt im Chat oder bei der Abholung im Laden.
cust-pay-unavailable = Dieser Laden nimmt Zahlungen im Chat an, die gerade nicht möglich sind: versuch es bitte später noch einmal.
cust-reserve-question =
    { $quantity } × { $title } für { $total } reservieren? { $how }

    Noch { $left } übrig · bis zu { $max } für dich
cust-pay-now-button = 💳 { $total } jetzt zahlen
cust-invoice-description = { $quantity } × { $title } bei { $business }, { $street }. { $pickup }. Abholcode nach der Zahlung.
cust-invoice-label = { $quantity } × { $title }
cust-invoice-refused-on-site = 💳 Im Chat bezahlen geht für diese Bestellung nicht. Es wurde nichts abgebucht und nichts reserviert: reservier sie, um an der Theke zu bezahlen.
cust-invoice-refused = 💳 Im Chat bezahlen geht für diese Bestellung nicht. Es wurde nichts abgebucht und nichts reserviert.
cust-invoice-sent = 💳 Die Rechnung kommt unten: bezahl innerhalb von { $minutes } Minuten, damit deine Reservierung hält (Bestellung #{ $order }).
cust-checkout-unknown = Diese Bestellung gilt nicht mehr. Reservier bitte neu.
cust-checkout-already-paid = Diese Bestellung ist schon bezahlt.
cust-checkout-payment-in-flight = Eine Zahlung für diese Bestellung ist schon unterwegs. Falls sie nicht durchging, versuch es in einer Minute noch einmal.
cust-checkout-hold-expired = Deine Reservierung ist abgelaufen und wieder freigegeben. Reservier bitte neu.
cust-checkout-offer-unavailable = Dieses Angebot gibt es nicht mehr.
cust-checkout-price-changed = Der Preis dieses Angebots hat sich geändert. Reservier bitte neu, um den neuen Preis zu sehen.
cust-checkout-amount-mismatch = Der Betrag passt nicht zu deiner Bestellung. Reservier bitte neu.
cust-hold-waiting = 💳 Bestellung #{ $order }: { $quantity } × { $title } bei { $business } ist bis { $until } für dich zurückgelegt. Bezahl die Rechnung in diesem Chat, um sie zu bestätigen; unbezahlt wird sie wieder freigegeben.
cust-hold-expired = ⌛ Deine Reservierung von { $quantity } × { $title } (Bestellung #{ $order }) ist abgelaufen, bevor die Zahlung kam: das Angebot ist wieder für alle frei.
cust-refund-on-its-way = Deine Zahlung von { $total } wird erstattet.
cust-refund-done-order = ↩️ Die Erstattung von { $total } für Bestellung #{ $order } ist abgeschlossen.
cust-refund-done = ↩️ Die Erstattung deiner Zahlung von { $total } ist abgeschlossen.
cust-refund-failed-order = ⚠️ Wir konnten { $total } für Bestellung #{ $order } noch nicht erstatten. Unser Team weiß Bescheid und kümmert sich darum.
cust-refund-failed = ⚠️ Wir konnten deine Zahlung von { $total } noch nicht erstatten. Unser Team weiß Bescheid und kümmert sich darum.
cust-refund-failed-admin =
    ⚠️ Erstattung von { $total } ({ $order }, Charge { $charge }) fehlgeschlagen: { $error }
    Wiederhol sie über /payments.
cust-refund-cause-nothing-left = sie kam, nachdem deine Reservierung abgelaufen war, und das Angebot gibt es nicht mehr
cust-refund-cause-already-paid = diese Bestellung war schon bezahlt (sie wurde doppelt bezahlt)
cust-refund-cause-unknown-hold = sie gehört zu keiner deiner Bestellungen
cust-refund-cause-amount-mismatch = der Betrag passt nicht zur Bestellung
cust-payment-refunding-order = ↩️ Deine Zahlung von { $total } für Bestellung #{ $order } lässt sich nicht verwenden: { $why }. Sie wird voll erstattet; wir sagen dir, wenn die Erstattung abgeschlossen ist.
cust-payment-refunding = ↩️ Deine Zahlung von { $total } lässt sich nicht verwenden: { $why }. Sie wird voll erstattet; wir sagen dir, wenn die Erstattung abgeschlossen ist.
cust-cancelled-offer-ended = ❌ { $business } hat „{ $title }“ vorzeitig beendet, daher ist deine Bestellung #{ $order } ({ $quantity } × { $title }) storniert.
cust-cancelled-offer-ended-refunded = ❌ { $business } hat „{ $title }“ vorzeitig beendet, daher ist deine Bestellung #{ $order } ({ $quantity } × { $title }) storniert. Deine { $total } werden voll erstattet.
cust-partially-refunded-order = ↩️ { $refunded } deiner Zahlung von { $total } für Bestellung #{ $order } wurden erstattet.
cust-partially-refunded = ↩️ { $refunded } deiner Zahlung von { $total } wurden erstattet.
cust-reconciliation-report =
    ⚠️ Die Zahlungen vom { $day } weichen von Stripe ab: { $discrepancies ->
        [one] eine Abweichung
       *[other] { $discrepancies } Abweichungen
    } bei { $charges ->
        [one] einer Zahlung
       *[other] { $charges } Zahlungen
    }.
cust-reconciliation-more = … und { $more } weitere (payment_discrepancies).
cust-partially-refunded-admin = ℹ️ Teilerstattung: { $refunded } von { $total } ({ $order }, Charge { $charge }).
cust-refund-button = ↩️ #{ $order } erstatten
cust-refund-question = Bestellung #{ $order } ({ $quantity } × { $title }, { $total }) an { $customer } erstatten? Eine bestätigte Reservierung wird storniert; was sie umfasst, wird nicht neu angeboten.
cust-business-refund-requested = ↩️ Erstattung von { $total } für Bestellung #{ $order } angestoßen.
cust-refunded-by-shop = ↩️ { $business } hat Bestellung #{ $order } ({ $quantity } × { $title }) erstattet: { $total } sind auf dem Weg zurück zu dir.
cust-in-app-only-refused = ⚠️ Telegram nimmt Zahlungen im Chat nur zwischen { $min } und { $max } an, und { $deals } deiner offenen Angebote liegen außerhalb. Wähl „im Chat oder an der Theke“ oder ändere zuerst ihre Preise.
cust-in-app-unsupported-currency = ⚠️ Telegram nimmt in der Währung dieses Marktplatzes keine Zahlungen im Chat an.
cust-payment-mode-on-site = an der Theke
cust-payment-mode-in-app = im Chat
cust-payment-mode-both = im Chat oder an der Theke
cust-payment-mode-button = 💳 { $name }: Zahlung { $mode }
cust-ask-payment-mode = Wie bezahlt die Kundschaft von { $name }?
cust-payments-not-set-up = Bezahlen im Chat ist bei diesem Bot noch nicht eingerichtet: bis dahin reserviert die Kundschaft und zahlt an der Theke.
cust-confirm-reservation-button = ✅ { $quantity } reservieren
cust-money-paid = Bezahlt: { $total }
cust-money-refund-pending = Erstattung von { $total } unterwegs
cust-money-refunded = Erstattet: { $total }
cust-money-partly-refunded = Bezahlt: { $total }, teilweise erstattet
cust-money-to-pay = Bei Abholung zu zahlen: { $total }
cust-confirmation =
    ✅ Reserviert! Bestellung #{ $order }
    🔑 Abholcode: { $code }

    { $quantity } × { $title }
    🏪 { $business }, { $street }, { $postcode } { $city }
    🕒 { $pickup }
    💶 { $money }

    Zeig den Abholcode während des Abholfensters an der Theke. Du schaffst es nicht? Storniere vor Ende des Fensters, damit jemand anderes es retten kann.
cust-state-pending-payment = wartet auf Zahlung
cust-state-expired = nicht rechtzeitig bezahlt
cust-state-confirmed = bestätigt
cust-state-picked-up = abgeholt
cust-state-cancelled = storniert
cust-state-no-show = nicht abgeholt
cust-past-reservation-line = • #{ $order } { $day } { $quantity } × { $title } bei { $business } – { $state }
cust-cannot-cancel-picked-up = Diese Bestellung wurde schon abgeholt.
cust-cannot-cancel-cancelled = Diese Reservierung ist schon storniert.
cust-cannot-cancel-no-show = Das Abholfenster ist vorbei.
cust-cannot-cancel-unconfirmed = Diese Bestellung ist nicht bestätigt: es gibt nichts zu stornieren.
cust-cancel-question = Bestellung #{ $order } ({ $quantity } × { $title } bei { $business }) stornieren? Der Laden kann es dann jemand anderem geben.
cust-cancelled = ❌ Bestellung #{ $order } ({ $quantity } × { $title }) ist storniert. Danke, dass du dem Laden Bescheid gibst!
cust-business-new-reservation = 🛒 Neue Reservierung #{ $order }: { $quantity } × { $title } für { $customer } ({ $total }, Zahlung im Laden). Der Abholcode wird an der Theke gezeigt: schick ihn mir, um die Abholung zu bestätigen.
cust-business-reservation-cancelled = ↩️ Reservierung #{ $order } wurde storniert: { $quantity } × { $title } sind wieder frei.
cust-favourite-no-deal = gerade kein Angebot
cust-favourite-deals-live =
    { $count ->
        [one] 1 Angebot online
       *[other] { $count } Angebote online
    }
cust-favourite-line = • { $name }{ $rating } – { $street }, { $city } · { $live }
cust-remove-named-favourite-button = 💔 { $name } entfernen
cust-favourite-alert =
    🔔 { $business } hat gerade ein Angebot eingestellt:

    { $card }
cust-thanks-for-rating = { $stars } Danke! Möchtest du noch etwas sagen? Schick jetzt einen kurzen Kommentar, oder /skip.
cust-comment-too-long = Das ist etwas lang: höchstens { $max } Zeichen, bitte.
cust-on = an
cust-off = aus
cust-quiet-none = keine
cust-location-saved-state = gespeichert
cust-location-not-set = nicht festgelegt
cust-customer-settings =
    🛒 Als Kundin oder Kunde
    • Hinweise von Favoriten: { $alerts }
    • Ruhezeiten: { $quiet }
    • Umkreis für In der Nähe: { $radius } km
    • Standort: { $location }
    • Sprache: { $language }
cust-business-status-pending = wartet auf Freigabe
cust-business-status-approved = freigegeben
cust-business-status-rejected = abgelehnt
cust-business-status-suspended = gesperrt
cust-role-owner = Inhaber
cust-role-staff = Mitarbeiter*in
cust-business-line = • { $name } – { $street }, { $city } ({ $role }, { $status })
cust-ask-quiet-hours = Während der Ruhezeiten warten Hinweise bis zum Morgen. Zeiten gelten in { $timezone }.
cust-pickup-done = ✅ Bestellung #{ $order } abgeholt: { $quantity } × { $title } für { $customer }. Zu kassieren: { $total }.
cust-pickup-unknown = ⚠️ Keine Reservierung deines Betriebs hat den Abholcode { $code }. Prüf den Code mit der Kundin oder dem Kunden.
cust-pickup-already = ℹ️ Bestellung #{ $order } wurde schon um { $at } abgeholt.
cust-pickup-not-confirmed = ⚠️ Bestellung #{ $order } ist { $state }: sie kann nicht abgeholt werden.
cust-rate-question = 🎉 Guten Appetit mit { $title }! Wie war es bei { $business }? Tipp auf die Sterne:
cust-reservations-of-offer =
    📋 Reservierungen für { $title }:
    { $lines }
cust-business-reservation-line = • #{ $order } { $quantity } × für { $customer } – { $state }
cust-picked-up-button = ✅ #{ $order } abgeholt
cust-reminder = ⏰ Die Abholung für Bestellung #{ $order } läuft jetzt bis { $until }: { $quantity } × { $title } bei { $business }, { $street }. Dein Abholcode: { $code }
cust-no-show = Das Abholfenster von Bestellung #{ $order } ({ $quantity } × { $title }) ist ohne Abholung vorbei. Wenn du es beim nächsten Mal nicht schaffst, storniere bitte in /my_reservations, damit das Essen gerettet wird.
cust-erased-customer = (Kund*in hat die Daten gelöscht)
cust-language-button = 🌐 Sprache
cust-ask-language = In welcher Sprache soll ich dir schreiben?
