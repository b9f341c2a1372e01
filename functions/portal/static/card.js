// The card page's one script (served from /app/static/card.js, so the content security policy
// needs no inline script). Stripe.js's card element takes the card; confirmCardSetup confirms the
// SetupIntent the server created (3-D Secure, when the bank asks for it, happens inside it); the
// form then posts the SetupIntent's id, and the server checks it with Stripe and saves the card.
(function () {
  'use strict';
  var form = document.getElementById('card-form');
  if (!form || typeof Stripe === 'undefined') { return; }
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
})();
