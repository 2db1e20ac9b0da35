"""The bodies Drupal (or the proxy in front of it) sends when the module itself does not answer.

Drupal's 4xx pages (themed HTML, or ``{"message": ...}`` when the site answers errors in JSON), its
generic 500 page, the login form, and nginx-style 429/502/504 pages. They are deliberately realistic:
a client must turn any of them into a clear error, never show the HTML raw.
"""

from __future__ import annotations

import html

_DRUPAL_PAGE = """<!DOCTYPE html>
<html lang="en" dir="ltr">
  <head>
    <meta charset="utf-8" />
    <meta name="Generator" content="Drupal 11 (https://www.drupal.org)" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>{title} | {site}</title>
  </head>
  <body class="path-system">
    <a href="#main-content" class="visually-hidden focusable skip-link">Skip to main content</a>
    <div class="dialog-off-canvas-main-canvas" data-off-canvas-main-canvas>
      <header role="banner"><a href="/" rel="home">{site}</a></header>
      <main role="main">
        <a id="main-content" tabindex="-1"></a>
        <h1 class="page-title">{title}</h1>
        <div class="region region-content">{message}</div>
      </main>
    </div>
  </body>
</html>
"""

_PROXY_PAGE = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)

# status -> (page title, page text, JSON message)
DRUPAL_ERRORS: dict[int, tuple[str, str, str]] = {
    401: ("Log in", "Please log in to access this page.", "No authentication credentials provided."),
    403: ("Access denied", "You are not authorized to access this page.", ""),
    404: (
        "Page not found",
        "The requested page could not be found.",
        "The requested page could not be found.",
    ),
    405: ("Method Not Allowed", "Method Not Allowed", "Method Not Allowed"),
}

UNEXPECTED_ERROR = "The website encountered an unexpected error. Try again later."


def drupal_page(*, site: str, title: str, message: str) -> str:
    return _DRUPAL_PAGE.format(
        site=html.escape(site), title=html.escape(title), message=f"<p>{html.escape(message)}</p>"
    )


def drupal_error(status: int, *, site: str) -> str:
    title, text, _ = DRUPAL_ERRORS[status]
    return drupal_page(site=site, title=title, message=text)


def unexpected_error(*, site: str) -> str:
    """Drupal's generic 500 page (an exception the module did not catch)."""
    return drupal_page(site=site, title="Error", message=UNEXPECTED_ERROR)


def login_form(*, site: str) -> str:
    """What ``/user/login`` shows without ``?_format=json``: the HTML form, status 200."""
    form = (
        '<form class="user-login-form" action="/user/login" method="post" id="user-login-form">'
        '<input type="text" name="name" /><input type="password" name="pass" />'
        '<input type="submit" name="op" value="Log in" /></form>'
    )
    return _DRUPAL_PAGE.format(site=html.escape(site), title="Log in", message=form)


def proxy_error(code: int, reason: str) -> str:
    return _PROXY_PAGE.format(code=code, reason=reason)
