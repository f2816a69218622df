"""Everything that is deployed, in layers (tests/test_layers.py holds the rules marked ◆).

A module imports from its own row or the rows below it:

    web             the routes: a request in, a page, JSON or CSV out (app.py lists them)
    services        the wiring: every client, store and flow built once from config
    ◆ only web and services import services (app.py reaches them through web)
    ──────────────────────────────────────────────────────────────────────────────────
    flows           report_service (archive + X + analytics), refresh (the schedule and
                    its workers), signin, forget, sweep (the archive's daily net under
                    forget), token_refresh (one refresh at X per OAuth 2.0 pair),
                    compliance (X's batch compliance, daily), history (older history
                    from X's full archive, a page a message), export: they take what they
                    work with as arguments, clocks included (tests/unit/ hands them fakes)
    X               x_timeline (v2 reads), x_auth (OAuth 1.0a), x_oauth2 (OAuth 2.0 with
                    PKCE, its refresh and revocation, Bearer reads), x_http (X's errors
                    made ours): through Tweepy; x_compliance (batch compliance jobs with
                    the app's bearer token): through requests; x_history (full-archive
                    counts and search with that token): through Tweepy
    stores          accounts, sessions (DynamoDB), archive (S3), budget (X's limits: a
                    bucket per account token, and the app's), refresh_queue (SQS), tokens
                    (the token cipher): through boto3, every failure through
                    errors.aws_call
    shared          config (settings and secrets), observability (Powertools), pages
                    (Jinja2 and security headers), cookies, errors (the domain errors)
    ──────────────────────────────────────────────────────────────────────────────────
    pure            report_view (what the page shows), charts (SVG), report_settings
                    (settings and where each came from), analytics (the figures),
                    business_hours, formats (how a time and a duration are written),
                    report_body (the report's JSON shape), report_lists (the pages of
                    people waiting and of answers), xlsx (the workbook export),
                    x_bill (what X bills for reads, at the configured prices):
                    no I/O, no clock of their own
    ◆ pure modules import from chalicelib only pure modules
    ◆ no import cycle

Imports inside a function only where they keep a module out of a cold start that does not
need it (services' docstring has the rule; tests/test_cold_start.py checks it).
"""
