// The portal's one script (served from /app/static/card.js, so the content security policy needs
// no inline script), for the two steps that need Stripe.js:
// - the card page: Stripe.js's card element takes the card; confirmCardSetup confirms the
//   SetupIntent the server created (3-D Secure, when the bank asks for it, happens inside it);
//   the form then posts the SetupIntent's id, and the server checks it with Stripe and saves it;
// - a checkout the bank wants confirmed: confirmCardPayment runs 3-D Secure for the payment.
// Errors are shown in the role="alert" element beside the field or button.
(function () {
  'use strict';
  if (typeof Stripe === 'undefined') { return; }

  var form = document.getElementById('card-form');
  if (form) {
    var stripe = Stripe(form.getAttribute('data-publishable-key'));
    var card = stripe.elements().create('card');
    card.mount('#card-element');
    var errors = document.getElementById('card-errors');
    var button = document.getElementById('card-submit');
    var confirmed = false;
    form.addEventListener('submit', function (event) {
      if (confirmed) { return; }
      event.preventDefault();
      button.disabled = true;
      errors.textContent = '';
      stripe.confirmCardSetup(form.getAttribute('data-client-secret'), { payment_method: { card: card } })
        .then(function (result) {
          if (result.error) {
            errors.textContent = result.error.message || 'The card could not be saved.';
            button.disabled = false;
            return;
          }
          document.getElementById('setup-intent').value = result.setupIntent.id;
          confirmed = true;
          form.submit();
        });
    });
  }

  var payment = document.getElementById('payment-confirm');
  if (payment) {
    var payer = Stripe(payment.getAttribute('data-publishable-key'));
    var pay = document.getElementById('payment-submit');
    var payErrors = document.getElementById('payment-errors');
    pay.addEventListener('click', function () {
      pay.disabled = true;
      payErrors.textContent = '';
      payer.confirmCardPayment(payment.getAttribute('data-client-secret')).then(function (result) {
        if (result.error) {
          payErrors.textContent = result.error.message || 'The payment was not confirmed.';
          pay.disabled = false;
          return;
        }
        window.location.assign(payment.getAttribute('data-done'));
      });
    });
  }
})();
