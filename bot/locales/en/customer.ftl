# English: the fallback for every language. Message ids are shared by all languages.

## Messages without variables.

cust-browse-intro = 🔎 What are you looking for? Deals are ranked by distance, then by the end of their pickup window.
cust-all-deals-button = 🛍 All deals
cust-ending-soon-button = ⏰ Ending soon
cust-set-location-button = 📍 Set my location
cust-change-location-button = 📍 Change my location
cust-share-location-button = 📍 Share my location
cust-ask-location = To find deals near you I need your location once: tap “📍 Share my location” below (or attach a location pin). You can change it any time in /settings.
cust-location-saved = 📍 Location saved. Here is what's near you:
cust-nothing-at-all = No deals can be reserved right now. Add shops to /favourites to hear the moment they post one.
cust-nothing-ending-soon = Nothing ends within the next two hours. Try All deals.
cust-back-to-filters-button = 🔙 Back to filters
cust-back-to-results-button = ⬅️ Back to results
cust-prev-button = ⬅️ Prev
cust-next-button = Next ➡️
cust-details-button = ℹ️ Details
cust-browse-button = 🔎 Browse deals
cust-offer-not-found = That deal is not available.
cust-reserve-button = 🛒 Reserve
cust-back-button = ⬅️ Back
cust-own-offer = That's a deal of your own business: customers reserve it.
cust-not-reservable-notice = This deal can't be reserved right now.
cust-reserved-notice = Reserved ✅
cust-last-unit-taken = That was the last unit and someone just reserved it.
cust-cancel-reservation-button = ❌ Cancel reservation
cust-no-reservations = You have no reservations yet. /browse finds deals near you.
cust-past-reservations = 🗂 Past reservations:
cust-not-your-reservation = That reservation isn't yours.
cust-cancel-confirm-button = Yes, cancel it
cust-keep-button = No, keep it
cust-cannot-cancel-after-window = The pickup window has ended: this reservation can no longer be cancelled.
cust-cancelled-notice = Reservation cancelled.
cust-add-favourite-button = ⭐ Add to favourites
cust-remove-favourite-button = 💔 Remove from favourites
cust-favourite-added = Added to favourites: you'll hear when they post a deal.
cust-favourite-removed = Removed from favourites.
cust-no-favourites = No favourites yet. Open a deal's details and tap “⭐ Add to favourites” to hear the moment that shop posts a deal.
cust-favourites-title = ⭐ Your favourites — you get an alert when they post a deal:
cust-view-deal-button = 👀 View deal
cust-already-rated = You already rated this pickup. Thank you!
cust-rate-after-pickup = You can rate once you've picked up your order.
cust-rated-notice = Thanks for rating!
cust-comment-skipped = Thanks! Your rating is saved.
cust-comment-expected = Send your comment as text, or /skip.
cust-comment-saved = Thanks! Your comment is saved.
cust-settings-title = ⚙️ Settings
cust-business-section = 🏪 Your businesses
cust-admin-section = 🛡 Admin: /pending shows applications waiting for approval.
cust-notifications-on-button = 🔔 Turn alerts on
cust-notifications-off-button = 🔕 Turn alerts off
cust-quiet-hours-button = 🌙 Quiet hours
cust-quiet-off-button = No quiet hours
cust-radius-button = 📏 Nearby radius
cust-ask-radius = How far may Nearby deals be?
cust-saved = Saved ✅
cust-back-to-settings-button = ⬅️ Back to settings
cust-pickup-prompt = Send me the customer's pickup code (6 characters, e.g. K7M2QX), or forward their confirmation message.
cust-reservations-button = 📋 Reservations
cust-refund-confirm-button = Yes, refund
cust-not-refundable = Only paid orders can be refunded, once.
cust-no-reservations-for-offer = No reservations for this deal yet.

## Customer texts with variables.

cust-nearby-button = 📍 Nearby (within { $radius } km)
cust-nothing-nearby = No deals within { $radius } km right now. Try a wider radius in /settings, all deals, or add shops to /favourites to hear the moment they post one.
cust-position = Deal { $n } of { $total }
cust-away = { $distance } away
cust-full-address = 📍 { $street }, { $postcode } { $city }
cust-not-reservable-paused = ⏸ The shop paused this deal for now: it can't be reserved.
cust-not-reservable-sold-out = 🔴 Sold out: every unit is reserved.
cust-not-reservable-window-ended = ⚪️ The pickup window has ended.
cust-not-reservable-ended-early = ⚪️ The shop ended this deal.
cust-cap-reached = You can hold at most { $cap } units of one deal.
cust-only-left = Only { $left } left: choose again.
cust-pay-on-site = Pay on site at pickup.
cust-pay-in-app = Pay in the chat now.
cust-pay-either = Pay in the chat now or on site at pickup.
cust-pay-unavailable = This shop takes payment in the chat, which is not available right now: please try again later.
cust-reserve-question =
    Reserve { $quantity } × { $title } for { $total }? { $how }

    { $left } left · up to { $max } for you
cust-pay-now-button = 💳 Pay { $total } now
cust-invoice-description = { $quantity } × { $title } at { $business }, { $street }. { $pickup }. Pickup code after payment.
cust-invoice-label = { $quantity } × { $title }
cust-invoice-refused-on-site = 💳 Paying in the chat is not possible for this order. Nothing was charged and nothing is held: reserve it to pay at the counter instead.
cust-invoice-refused = 💳 Paying in the chat is not possible for this order. Nothing was charged and nothing is held.
cust-invoice-sent = 💳 Invoice sent below: pay within { $minutes } minutes to keep your units (order #{ $order }).
cust-checkout-unknown = This order is not valid anymore. Please reserve again.
cust-checkout-already-paid = This order is already paid.
cust-checkout-payment-in-flight = A payment for this order is already on its way. If it did not go through, try again in a minute.
cust-checkout-hold-expired = Your hold expired and the units went back. Please reserve again.
cust-checkout-offer-unavailable = This deal is no longer available.
cust-checkout-price-changed = The price of this deal changed. Please reserve again to see the new price.
cust-checkout-amount-mismatch = The amount does not match your order. Please reserve again.
cust-hold-waiting = 💳 Order #{ $order }: { $quantity } × { $title } at { $business } is held for you until { $until }. Pay the invoice in this chat to confirm it; unpaid, the units go back.
cust-hold-expired = ⌛ Your hold on { $quantity } × { $title } (order #{ $order }) expired before the payment came: the units are available again.
cust-refund-on-its-way = Your payment of { $total } is being refunded.
cust-refund-done-order = ↩️ The refund of { $total } for order #{ $order } is complete.
cust-refund-done = ↩️ The refund of your payment of { $total } is complete.
cust-refund-failed-order = ⚠️ We could not refund { $total } for order #{ $order } yet. Our team has been told and will sort it out.
cust-refund-failed = ⚠️ We could not refund your payment of { $total } yet. Our team has been told and will sort it out.
cust-refund-failed-admin =
    ⚠️ Refund of { $total } ({ $order }, charge { $charge }) failed: { $error }
    Retry it from /payments.
cust-refund-cause-nothing-left = it arrived after your hold lapsed, and the deal is no longer available
cust-refund-cause-already-paid = this order was already paid (it was paid twice)
cust-refund-cause-unknown-hold = it does not belong to an order of yours
cust-refund-cause-amount-mismatch = the amount does not match the order
cust-payment-refunding-order = ↩️ Your payment of { $total } for order #{ $order } cannot be used: { $why }. It is being refunded in full; we'll tell you when the refund is complete.
cust-payment-refunding = ↩️ Your payment of { $total } cannot be used: { $why }. It is being refunded in full; we'll tell you when the refund is complete.
cust-cancelled-offer-ended = ❌ { $business } ended “{ $title }” early, so your order #{ $order } ({ $quantity } × { $title }) is cancelled.
cust-cancelled-offer-ended-refunded = ❌ { $business } ended “{ $title }” early, so your order #{ $order } ({ $quantity } × { $title }) is cancelled. Your { $total } is being refunded in full.
cust-partially-refunded-order = ↩️ { $refunded } of your payment of { $total } for order #{ $order } has been refunded.
cust-partially-refunded = ↩️ { $refunded } of your payment of { $total } has been refunded.
cust-reconciliation-report = ⚠️ Payments of { $day } differ from Stripe: { $discrepancies } discrepancy(ies) in { $charges } charge(s).
cust-reconciliation-more = … and { $more } more (payment_discrepancies).
cust-partially-refunded-admin = ℹ️ Partial refund: { $refunded } of { $total } ({ $order }, charge { $charge }).
cust-refund-button = ↩️ Refund #{ $order }
cust-refund-question = Refund order #{ $order } ({ $quantity } × { $title }, { $total }) to { $customer }? A confirmed reservation is cancelled; its units are not offered again.
cust-business-refund-requested = ↩️ Refund of { $total } for order #{ $order } requested.
cust-refunded-by-shop = ↩️ { $business } refunded order #{ $order } ({ $quantity } × { $title }): { $total } is on its way back to you.
cust-in-app-only-refused = ⚠️ Telegram takes payments in the chat only between { $min } and { $max }, and { $deals } of your open deals are priced outside that. Choose “in the chat or at the counter”, or change their prices first.
cust-in-app-unsupported-currency = ⚠️ Telegram does not take payments in the chat in this marketplace's currency.
cust-payment-mode-on-site = at the counter
cust-payment-mode-in-app = in the chat
cust-payment-mode-both = in the chat or at the counter
cust-payment-mode-button = 💳 { $name }: payment { $mode }
cust-ask-payment-mode = How do customers of { $name } pay?
cust-payments-not-set-up = Paying in the chat is not set up on this bot yet: until it is, customers reserve and pay at the counter.
cust-confirm-reservation-button = ✅ Reserve { $quantity }
cust-money-paid = Paid: { $total }
cust-money-refund-pending = Refund of { $total } on its way
cust-money-refunded = Refunded: { $total }
cust-money-partly-refunded = Paid: { $total }, partly refunded
cust-money-to-pay = To pay at pickup: { $total }
cust-confirmation =
    ✅ Reserved! Order #{ $order }
    🔑 Pickup code: { $code }

    { $quantity } × { $title }
    🏪 { $business }, { $street }, { $postcode } { $city }
    🕒 { $pickup }
    💶 { $money }

    Show the pickup code at the counter during the pickup window. Can't make it? Cancel before the window ends so someone else can rescue it.
cust-state-pending-payment = waiting for payment
cust-state-expired = not paid in time
cust-state-confirmed = confirmed
cust-state-picked-up = picked up
cust-state-cancelled = cancelled
cust-state-no-show = not picked up
cust-past-reservation-line = • #{ $order } { $day } { $quantity } × { $title } at { $business } — { $state }
cust-cannot-cancel-picked-up = This order was already picked up.
cust-cannot-cancel-cancelled = This reservation is already cancelled.
cust-cannot-cancel-no-show = The pickup window has ended.
cust-cannot-cancel-unconfirmed = This order is not confirmed: there is nothing to cancel.
cust-cancel-question = Cancel order #{ $order } ({ $quantity } × { $title } at { $business })? The units go back to the shop for someone else.
cust-cancelled = ❌ Order #{ $order } ({ $quantity } × { $title }) is cancelled. Thanks for letting the shop know!
cust-business-new-reservation = 🛒 New reservation #{ $order }: { $quantity } × { $title } for { $customer } ({ $total }, paid on site). They show their pickup code at the counter: send it to me to confirm the pickup.
cust-business-reservation-cancelled = ↩️ Reservation #{ $order } was cancelled: { $quantity } × { $title } are available again.
cust-favourite-no-deal = no deal right now
cust-favourite-deals-live =
    { $count ->
        [one] 1 deal live
       *[other] { $count } deals live
    }
cust-favourite-line = • { $name }{ $rating } — { $street }, { $city } · { $live }
cust-remove-named-favourite-button = 💔 Remove { $name }
cust-favourite-alert =
    🔔 { $business } just posted a deal:

    { $card }
cust-thanks-for-rating = { $stars } Thank you! Anything to add? Send a short comment now, or /skip.
cust-comment-too-long = That's a bit long: at most { $max } characters, please.
cust-on = on
cust-off = off
cust-quiet-none = none
cust-location-saved-state = saved
cust-location-not-set = not set
cust-customer-settings =
    🛒 As a customer
    • Alerts from favourites: { $alerts }
    • Quiet hours: { $quiet }
    • Nearby radius: { $radius } km
    • Location: { $location }
    • Language: { $language }
cust-business-status-pending = waiting for approval
cust-business-status-approved = approved
cust-business-status-rejected = rejected
cust-business-status-suspended = suspended
cust-role-owner = owner
cust-role-staff = staff
cust-business-line = • { $name } — { $street }, { $city } ({ $role }, { $status })
cust-ask-quiet-hours = During quiet hours alerts wait until the morning. Times are in { $timezone }.
cust-pickup-done = ✅ Order #{ $order } picked up: { $quantity } × { $title } for { $customer }. Collect { $total }.
cust-pickup-unknown = ⚠️ No reservation of your business has the pickup code { $code }. Check the code with the customer.
cust-pickup-already = ℹ️ Order #{ $order } was already picked up at { $at }.
cust-pickup-not-confirmed = ⚠️ Order #{ $order } is { $state }: it can't be picked up.
cust-rate-question = 🎉 Enjoy your { $title }! How was { $business }? Tap the stars:
cust-reservations-of-offer =
    📋 Reservations for { $title }:
    { $lines }
cust-business-reservation-line = • #{ $order } { $quantity } × for { $customer } — { $state }
cust-picked-up-button = ✅ #{ $order } picked up
cust-reminder = ⏰ Pickup for order #{ $order } is open now until { $until }: { $quantity } × { $title } at { $business }, { $street }. Your pickup code: { $code }
cust-no-show = The pickup window of order #{ $order } ({ $quantity } × { $title }) has ended without a pickup. If you can't make it next time, please cancel in /my_reservations so the food gets rescued.
cust-erased-customer = (customer erased their data)
cust-language-button = 🌐 Language
cust-ask-language = Which language should I write to you in?
