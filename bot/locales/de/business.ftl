# Deutsch: Texte der Betriebe (Anmeldung, Freigabe, Angebote, Mitarbeitende).

## Texte ohne Variablen.

biz-registration-intro = Lass uns deinen Betrieb anmelden 🏪 Das dauert etwa eine Minute, eine Frage nach der anderen. /back geht zur vorigen Frage, /cancel bricht ab.
biz-ask-business-name = Wie heißt dein Betrieb? Zum Beispiel: Bäckerei Ada
biz-ask-street = Straße und Hausnummer? Zum Beispiel: Hauptstraße 12
biz-ask-city = Ort? Zum Beispiel: Berlin
biz-ask-postal-code = Postleitzahl? Zum Beispiel: 10115
biz-ask-phone = Telefonnummer für die Kundschaft (freiwillig)? Zum Beispiel: +49 30 1234567 – oder tipp auf Überspringen.
biz-ask-logo = Schick dein Logo als Foto (freiwillig) – oder tipp auf Überspringen.
biz-ask-location = Letzter Schritt: Wo ist dein Laden? Tipp auf „📍 Standort teilen“ (oder häng einen Standort an), damit Leute in der Nähe dich finden.
biz-share-location-button = 📍 Standort teilen
biz-skip-button = Überspringen
biz-registration-all-set = Danke, das war alles.
biz-registration-cancelled = Anmeldung abgebrochen. Es wurde nichts gespeichert. /register_business fängt neu an.
biz-submit-button = ✅ Zur Freigabe senden
biz-edit-button = ✏️ Ändern
biz-cancel-button = ✖️ Abbrechen
biz-back-button = ⬅️ Zurück
biz-which-field = Welches Feld möchtest du ändern?
biz-draft-gone = Dieser Entwurf ist abgelaufen. Fang bitte neu an.
biz-duplicate-business = ⚠️ Ein Betrieb mit diesem Namen und dieser Adresse ist schon angemeldet. Gehört er dir, bitte den Inhaber um eine Einladung als Mitarbeiter*in; sonst korrigier Name oder Adresse mit ✏️ Ändern.
biz-welcome-back-business = Willkommen zurück! 🏪 /newdeal stellt ein Angebot ein, /myoffers verwaltet deine Angebote, /register_business meldet einen weiteren Betrieb an.
biz-no-dialogue = Gerade gibt es nichts, wohin du zurückgehen oder was du abbrechen könntest.
biz-approve-button = ✅ Freigeben
biz-reject-button = ❌ Ablehnen (mit Grund)
biz-suspend-button = ⏸ Sperren
biz-reinstate-button = ▶️ Entsperren
biz-no-pending = Keine Anmeldung wartet. 🎉
biz-retry-refund-button = 🔁 Erstattung wiederholen
biz-refund-retried = Erstattung erneut angestoßen.
biz-refund-not-failed = Diese Erstattung ist nicht mehr fehlgeschlagen.
biz-ask-rejection-reason = Warum wird abgelehnt? Deine Antwort geht an den Betrieb. Zum Beispiel: Die Adresse ließ sich nicht prüfen. /cancel lässt die Anmeldung offen.
biz-rejection-cancelled = Nicht abgelehnt; die Anmeldung ist weiter offen.
biz-already-decided = Über diese Anmeldung wurde schon entschieden.
biz-post-deal-now-button = ➕ Jetzt Angebot einstellen
biz-newdeal-no-business = Nur angemeldete Betriebe können Angebote einstellen. Melde deinen mit /register_business an – ein Admin gibt ihn frei, meist innerhalb eines Tages.
biz-newdeal-pending = Dein Betrieb wartet noch auf Freigabe. Du bekommst eine Nachricht, sobald er freigegeben ist; dann kannst du Angebote einstellen.
biz-newdeal-rejected = Die Anmeldung deines Betriebs wurde nicht freigegeben. Du kannst sie korrigieren und dich mit /register_business neu anmelden.
biz-newdeal-suspended = Dein Betrieb ist gesperrt und kann gerade keine Angebote einstellen. Bitte melde dich beim Marktplatz-Team.
biz-not-your-business = Diesen Betrieb verwaltest du nicht.
biz-which-business = Für welchen Betrieb ist das Angebot?
biz-ask-category = Lass uns ein Angebot einstellen! Was für Essen ist es?
biz-ask-title = Ein kurzer Titel? Zum Beispiel: Überraschungstüte
biz-ask-description = Beschreib es in bis zu 200 Zeichen. Zum Beispiel: Brot und Gebäck vom Tag
biz-ask-photo = Schick ein Foto vom Essen (freiwillig) – oder tipp auf Überspringen.
biz-ask-units = Wie viele Stück (Tüten, Boxen, Portionen) hast du? Zum Beispiel: 5
biz-ask-units-edit = Wie viele Stück sind noch da? Bestehende Reservierungen bleiben. Zum Beispiel: 3 (0 heißt ausverkauft)
biz-deal-ready = Fast fertig!
biz-deal-cancelled = Angebot verworfen. Es wurde nichts veröffentlicht.
biz-publish-button = 🚀 Veröffentlichen
biz-edit-field-button = ✏️ Feld ändern
biz-view-as-customer-button = 👀 Kundenansicht
biz-share-link-button = 🔗 Link teilen
biz-manage-button = ⚙️ Verwalten
biz-pause-button = ⏸ Pausieren
biz-resume-button = ▶️ Fortsetzen
biz-end-now-button = ⏹ Jetzt beenden
biz-end-confirm-button = Ja, beenden
biz-end-keep-button = Nein, behalten
biz-no-offers = Du hast noch keine Angebote. /newdeal stellt eins ein.
biz-not-your-offer = Das ist keins deiner Angebote.
biz-offer-already-ended = Dieses Angebot ist beendet und lässt sich nicht mehr ändern.
biz-resume-suspended = Dein Betrieb ist gesperrt; Angebote lassen sich fortsetzen, sobald er wieder freigeschaltet ist.
biz-resume-without-units = Es ist nichts mehr übrig: stell zuerst die Stückzahl ein (✏️ Ändern).
biz-window-ended = Das Abholfenster ist vorbei.
biz-edit-cancelled = Es wurde nichts geändert.
biz-staff-cannot-invite = Nur der Inhaber eines Betriebs kann Mitarbeitende einladen.
biz-staff-already-member = Du verwaltest schon Angebote dieses Betriebs.
biz-staff-invite-invalid = Diese Einladung ist ungültig, schon benutzt oder abgelaufen. Bitte frag nach einer neuen.
biz-no-longer-staff = Diese Person arbeitet nicht mehr für diesen Betrieb.
biz-identity-change-sent = 📝 Zur Prüfung gesendet: ein Admin prüft neuen Namen, Adresse, Standort oder Logo, bevor die Kundschaft sie sieht. Bis dahin zeigt dein Eintrag die freigegebenen Angaben; du bekommst eine Nachricht, sobald entschieden ist. (Eine neue Telefonnummer gilt sofort.)
biz-accept-change-button = ✅ Änderung annehmen
biz-reject-change-button = ❌ Änderung ablehnen (mit Grund)
biz-ask-change-rejection-reason = Warum wird die Änderung abgelehnt? Deine Antwort geht an den Betrieb. Zum Beispiel: Die neue Adresse ließ sich nicht prüfen. /cancel lässt die Änderung offen.
biz-change-rejection-cancelled = Nicht abgelehnt; die Änderung ist weiter offen.
biz-change-already-decided = Über diese Änderung wurde schon entschieden.
biz-change-accepted = ✅ Angenommen: die Kundschaft sieht jetzt die neuen Angaben.
biz-change-rejected = ❌ Änderung abgelehnt; der Betrieb hat den Grund erfahren.
biz-name-taken-by-live-business = Ein Betrieb mit diesem Namen und dieser Adresse ist schon freigegeben: lehn diese Anmeldung ab oder sperr zuerst den anderen Betrieb.
biz-application-expired-reason = Kein Admin hat innerhalb von 14 Tagen entschieden, daher ist die Anmeldung verfallen.
biz-remove-confirm-button = Ja, entfernen
biz-invite-revoked = Link zurückgezogen: er funktioniert nicht mehr.
biz-invite-not-open = Dieser Link wurde schon benutzt, zurückgezogen oder ist abgelaufen.

## Texte mit Variablen.

biz-edit-business-button = ✏️ { $name } ändern
biz-which-business-field = Was möchtest du an { $name } ändern?
biz-member-erased = (Daten gelöscht)
biz-staff-owner-line = • { $name } – Inhaber
biz-staff-line-invited = • { $name } – Mitarbeiter*in seit { $joined }, eingeladen von { $by }
biz-staff-line = • { $name } – Mitarbeiter*in seit { $joined }
biz-open-invite-line = • Link { $number }: unbenutzt, gültig bis { $until }
biz-staff-screen =
    👥 Mitarbeitende von { $business }:
    { $members }
biz-staff-none-yet = Noch keine Mitarbeitenden: /invite_staff erstellt einen Einladungslink.
biz-staff-open-invites =
    Noch nicht benutzte Einladungslinks:
    { $invites }
biz-remove-member-button = 🗑 { $name } entfernen
biz-revoke-invite-button = ✖️ Link { $number } zurückziehen
biz-remove-member-question = { $name } aus den Mitarbeitenden von { $business } entfernen? Die Person kann dann keine Angebote mehr verwalten oder Abholungen bestätigen – ab dem nächsten Tipp – und erfährt davon.
biz-member-removed = { $name } wurde entfernt.
biz-removed-from-staff = Du verwaltest keine Angebote von { $business } mehr: der Inhaber hat dich aus den Mitarbeitenden entfernt.
biz-change-name = Name: { $old } → { $new }
biz-change-address = Adresse: { $old } → { $new }
biz-change-location = Standort: { $old } → { $new }
biz-change-logo-new = Logo: ein neues Logo
biz-change-logo-removed = Logo: entfernt
biz-change-no-difference = Kein Unterschied zu den freigegebenen Angaben.
biz-change-request =
    ✏️ { $business } (#{ $id }) möchte seinen Eintrag ändern:
    { $lines }

    Bis du annimmst, sieht die Kundschaft die freigegebenen Angaben.
biz-change-waiting = ⏳ Wartet auf einen Admin: { $name }, { $street }, { $postcode } { $city }. Bis dahin sieht die Kundschaft die freigegebenen Angaben.
biz-change-accepted-notice = ✅ Deine Änderung wurde angenommen: die Kundschaft sieht { $name } jetzt mit den neuen Angaben.
biz-change-rejected-notice =
    Deine Änderung an { $name } wurde nicht angenommen.
    Grund: { $reason }

    Dein Eintrag behält die freigegebenen Angaben; in /settings kannst du eine andere Änderung vorschlagen.
biz-owner-only-refund = Nur der Inhaber des Betriebs kann eine Reservierung erstatten.
biz-owner-only-end-deal-with-paid = Dieses Angebot hat bezahlte Reservierungen: nur der Inhaber des Betriebs kann es beenden (dabei wird erstattet).
biz-owner-only-edit-business = Nur der Inhaber des Betriebs kann seine Angaben ändern.
biz-owner-only-manage-staff = Nur der Inhaber des Betriebs kann die Mitarbeitenden verwalten.
biz-owner-only = Das kann nur der Inhaber des Betriebs.
biz-business-updated =
    ✅ Gespeichert. Die Kundschaft sieht die Änderung sofort.

    { $summary }
