"""The contact page and the accessibility statement: who runs the site, where to write, what was tested."""
from tests.support.web import page_text


def test_the_contact_page_names_the_society_and_its_address(make_app):
    app = make_app(ORGANIZATION_NAME="Example Society", PRIVACY_CONTACT_EMAIL="office@society.example",
                   ORGANIZATION_POSTAL_ADDRESS="1 Main Street, Washington, D.C. 20001")
    text = page_text(app.test_client().get("/contact"))
    assert "run by Example Society" in text
    assert "office@society.example" in text and "1 Main Street, Washington, D.C. 20001" in text


def test_the_contact_page_points_to_the_self_service_links_first(client):
    html = client.get("/contact").get_data(as_text=True)
    for href in ('href="/summit"', 'href="/newsletter/manage"', 'href="/privacy"', 'href="/accessibility"'):
        assert href in html


def test_the_accessibility_statement_says_what_was_tested_known_issues_and_how_to_report(make_app):
    app = make_app(PRIVACY_CONTACT_EMAIL="office@society.example")
    text = page_text(app.test_client().get("/accessibility"))
    assert "WCAG) 2.2 at level AA" in text
    for heading in ("How we test", "Known issues", "Report a problem"):
        assert heading in text
    assert "office@society.example" in text
