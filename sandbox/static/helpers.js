// The sandbox's copy of what IHP's helpers.js does to forms (lib/IHP/static/helpers.js):
// every submit is cancelled and sent with XMLHttpRequest; the response's body is swapped into
// the current document and the address bar updated with history.replaceState/pushState.
// No `load` event fires after such a submit. Forms with
// data-disable-javascript-submission="true" are submitted natively instead.
// Sandbox addition, used by the Activate and Regenerate buttons: a form with data-confirm
// asks window.confirm() first and is not sent when the operator declines. IHP's own
// .js-delete links are here too (the scaffold markup's Activate).
(function () {
    'use strict';

    document.addEventListener('submit', function (event) {
        event.preventDefault();
        var form = event.target;
        if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
            return;
        }
        window.submitForm(form);
    });

    // IHP's .js-delete links (initDelete): confirm() (data-confirm, else IHP's own question),
    // then a POST of the link's address with _method=DELETE, sent as any form is. Delegated, so
    // that it holds after a body swap.
    document.addEventListener('click', function (event) {
        var link = event.target.closest && event.target.closest('a.js-delete');
        if (!link) {
            return;
        }
        event.preventDefault();
        if (!link.classList.contains('js-delete-no-confirm')
            && !window.confirm(link.dataset.confirm || 'Are you sure you want to delete this?')) {
            return;
        }
        var form = document.createElement('form');
        form.action = link.href;
        form.method = 'POST';
        var methodInput = document.createElement('input');
        methodInput.type = 'hidden';
        methodInput.name = '_method';
        methodInput.value = 'DELETE';
        form.appendChild(methodInput);
        document.body.appendChild(form);
        window.submitForm(form);
    });

    window.submitForm = function (form) {
        if (form.dataset && form.dataset.disableJavascriptSubmission === 'true') {
            form.submit();
            return;
        }
        var formAction = form.getAttribute('action');
        var formMethod = (form.getAttribute('method') || 'GET').toUpperCase();

        var request = new XMLHttpRequest();
        request.responseType = 'document';
        request.overrideMimeType('text/html');
        request.onload = function () {
            if (request.status !== 200 && request.status !== 280) {
                console.error('Something went wrong, status code: ' + request.status);
            }
            var url = new URL(formAction, document.baseURI);
            var urlPathnameWithQuery = url.pathname + url.search;
            var responseUrl = new URL(request.responseURL);
            var responseUrlPath = responseUrl.pathname + responseUrl.search;
            if (urlPathnameWithQuery !== formAction) {
                history.pushState({}, '', request.responseURL);
            } else if (urlPathnameWithQuery !== responseUrlPath) {
                history.replaceState({}, '', request.responseURL);
            }
            transitionToNewPage(request.response);
        };

        var parameters = [];
        new FormData(form).forEach(function (value, name) {
            parameters.push(encodeURIComponent(name) + '=' + encodeURIComponent(value));
        });
        request.open(formMethod, formAction, true);
        request.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
        request.send(parameters.join('&'));

        var buttons = form.getElementsByTagName('button');
        for (var i = 0; i < buttons.length; i++) {
            buttons[i].setAttribute('disabled', 'disabled');
        }
    };

    function transitionToNewPage(newDocument) {
        document.title = newDocument.title;
        document.body.replaceWith(document.adoptNode(newDocument.body));
        document.dispatchEvent(new CustomEvent('turbolinks:load'));
    }
})();
