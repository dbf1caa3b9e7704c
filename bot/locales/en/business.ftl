# English: the fallback for every language. Message ids are shared by all languages.

## Messages without variables.

biz-registration-intro = Let's register your business 🏪 It takes about a minute: one question at a time. /back goes to the previous question, /cancel stops.
biz-ask-business-name = What is your business called? For example: Bakery Ada
biz-ask-street = Street and house number? For example: Main Street 12
biz-ask-city = City? For example: Berlin
biz-ask-postal-code = Postal code? For example: 10115
biz-ask-phone = Phone number for customers (optional)? For example: +49 30 1234567 — or tap Skip.
biz-ask-logo = Send your logo as a photo (optional) — or tap Skip.
biz-ask-location = Last step: where is your shop? Tap “📍 Share location” (or attach a location pin) so that nearby customers find you.
biz-share-location-button = 📍 Share location
biz-skip-button = Skip
biz-registration-all-set = Thanks, that's everything.
biz-registration-cancelled = Registration cancelled. Nothing was saved. /register_business starts again.
biz-submit-button = ✅ Submit for approval
biz-edit-button = ✏️ Edit
biz-cancel-button = ✖️ Cancel
biz-back-button = ⬅️ Back
biz-which-field = Which field do you want to change?
biz-draft-gone = This draft has expired. Please start again.
biz-duplicate-business = ⚠️ A business with this name and address is already registered. If it is yours, ask its owner for a staff invitation; otherwise correct the name or address with ✏️ Edit.
biz-welcome-back-business = Welcome back! 🏪 /newdeal posts a deal, /myoffers manages your deals, /register_business adds another business.
biz-no-dialogue = There is nothing to go back from or cancel right now.
biz-approve-button = ✅ Approve
biz-reject-button = ❌ Reject (with reason)
biz-suspend-button = ⏸ Suspend
biz-reinstate-button = ▶️ Reinstate
biz-no-pending = No applications are waiting. 🎉
biz-retry-refund-button = 🔁 Retry the refund
biz-refund-retried = Refund requested again.
biz-refund-not-failed = This refund is not failed anymore.
biz-ask-rejection-reason = Why is it rejected? Your answer is sent to the business. For example: The address could not be verified. /cancel keeps the application pending.
biz-rejection-cancelled = Not rejected; the application is still pending.
biz-already-decided = This application was already decided.
biz-post-deal-now-button = ➕ Post a deal now
biz-newdeal-no-business = Only registered businesses can post deals. Register yours with /register_business — an admin approves it, usually within a day.
biz-newdeal-pending = Your business is still waiting for approval. You'll get a message as soon as it is approved; then you can post deals.
biz-newdeal-rejected = Your business application was not approved. You can correct it and apply again with /register_business.
biz-newdeal-suspended = Your business is suspended, so it cannot post deals right now. Please contact the marketplace team.
biz-not-your-business = You don't manage this business.
biz-which-business = Which business is the deal for?
biz-ask-category = Let's post a deal! What kind of food is it?
biz-ask-title = A short title? For example: Surprise bag
biz-ask-description = Describe it in up to 200 characters. For example: Bread and pastries of the day
biz-ask-photo = Send a photo of the food (optional) — or tap Skip.
biz-ask-units = How many units (bags, boxes, portions) do you have? For example: 5
biz-ask-units-edit = How many units are still available? Existing reservations are kept. For example: 3 (0 marks it sold out)
biz-deal-ready = Almost done!
biz-deal-cancelled = Deal discarded. Nothing was published.
biz-publish-button = 🚀 Publish
biz-edit-field-button = ✏️ Edit field
biz-view-as-customer-button = 👀 View as customer
biz-share-link-button = 🔗 Share link
biz-manage-button = ⚙️ Manage
biz-pause-button = ⏸ Pause
biz-resume-button = ▶️ Resume
biz-end-now-button = ⏹ End now
biz-end-confirm-button = Yes, end it
biz-end-keep-button = No, keep it
biz-no-offers = You have no deals yet. /newdeal posts one.
biz-not-your-offer = That isn't one of your deals.
biz-offer-already-ended = This deal has ended; it can no longer be changed.
biz-resume-suspended = Your business is suspended; deals can be resumed once it is reinstated.
biz-resume-without-units = No units are left: set the units first (✏️ Edit).
biz-window-ended = The pickup window has ended.
biz-edit-cancelled = Nothing was changed.
biz-staff-cannot-invite = Only the owner of a business can invite staff.
biz-staff-already-member = You already manage deals of this business.
biz-staff-invite-invalid = This invitation is invalid, already used or expired. Please ask for a new one.
biz-no-longer-staff = That person is no longer staff of this business.
biz-identity-change-sent = 📝 Sent for review: an admin checks a new name, address, location or logo before customers see it. Until then your listing keeps the approved details; you'll get a message when it is decided. (A new phone number applies at once.)
biz-accept-change-button = ✅ Accept change
biz-reject-change-button = ❌ Reject change (with reason)
biz-ask-change-rejection-reason = Why is the change rejected? Your answer is sent to the business. For example: The new address could not be verified. /cancel keeps the change pending.
biz-change-rejection-cancelled = Not rejected; the change is still pending.
biz-change-already-decided = This change was already decided.
biz-change-accepted = ✅ Accepted: customers see the new details now.
biz-change-rejected = ❌ Change rejected; the business was told why.
biz-name-taken-by-live-business = A business with this name and address is already approved: reject this application, or suspend the other business first.
biz-application-expired-reason = No admin decided within 14 days, so the application expired.
biz-remove-confirm-button = Yes, remove
biz-invite-revoked = Link revoked: it no longer works.
biz-invite-not-open = This link was already used, revoked or has expired.

## Business texts with variables.

biz-edit-business-button = ✏️ Edit { $name }
biz-which-business-field = What would you like to change about { $name }?
biz-member-erased = (erased their data)
biz-staff-owner-line = • { $name } — owner
biz-staff-line-invited = • { $name } — staff since { $joined }, invited by { $by }
biz-staff-line = • { $name } — staff since { $joined }
biz-open-invite-line = • Link { $number }: unused, works until { $until }
biz-staff-screen =
    👥 Staff of { $business }:
    { $members }
biz-staff-none-yet = No staff yet: /invite_staff creates an invitation link.
biz-staff-open-invites =
    Invitation links not used yet:
    { $invites }
biz-remove-member-button = 🗑 Remove { $name }
biz-revoke-invite-button = ✖️ Revoke link { $number }
biz-remove-member-question = Remove { $name } from the staff of { $business }? They can no longer manage its deals or confirm pickups — from their very next tap — and are told so.
biz-member-removed = { $name } was removed.
biz-removed-from-staff = You no longer manage deals of { $business }: its owner removed you from the staff.
biz-change-name = Name: { $old } → { $new }
biz-change-address = Address: { $old } → { $new }
biz-change-location = Location: { $old } → { $new }
biz-change-logo-new = Logo: a new logo
biz-change-logo-removed = Logo: removed
biz-change-no-difference = No difference to the approved details.
biz-change-request =
    ✏️ { $business } (#{ $id }) asks to change its listing:
    { $lines }

    Customers see the approved details until you accept.
biz-change-waiting = ⏳ Waiting for an admin: { $name }, { $street }, { $postcode } { $city }. Customers see the approved details until then.
biz-change-accepted-notice = ✅ Your change was accepted: customers now see { $name } with the new details.
biz-change-rejected-notice =
    Your change to { $name } was not accepted.
    Reason: { $reason }

    Your listing keeps its approved details; you can propose another change in /settings.
biz-owner-only-refund = Only the owner of the business can refund a reservation.
biz-owner-only-end-deal-with-paid = This deal has paid reservations: only the owner of the business can end it (ending it refunds them).
biz-owner-only-edit-business = Only the owner of the business can change its details.
biz-owner-only-manage-staff = Only the owner of the business can manage its staff.
biz-owner-only = Only the owner of the business can do that.
biz-business-updated =
    ✅ Saved. Customers see the change at once.

    { $summary }
