"""The SMTP relay, refereed by Python's smtplib: a message goes through, the command order of
RFC 5321 is kept, and the relay's temporary and permanent refusals reach the client."""

import smtplib
from email.message import EmailMessage

from common import check, control, env, raises

FROM = "no-reply@postroute.example"


def relay():
    return smtplib.SMTP(env("REFEREE_SMTP_HOST"), int(env("REFEREE_SMTP_PORT")), timeout=10)


def message(to="ada@example.com", subject="Welcome"):
    built = EmailMessage()
    built["From"] = f"PostRoute <{FROM}>"
    built["To"] = to
    built["Subject"] = subject
    built.set_content("Hello\n.a line starting with a dot\n")
    return built


def relayed():
    return control("/smtp/messages", method="GET")


@check
def a_message_goes_through_dot_unstuffed():
    before = len(relayed())
    with relay() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("8bitmime")
        smtp.send_message(message(subject="Through"))
    after = relayed()
    assert len(after) == before + 1
    assert after[-1]["from"] == FROM and after[-1]["to"] == ["ada@example.com"], after[-1]
    assert "Subject: Through" in after[-1]["data"] and "\n.a line starting with a dot" in after[-1]["data"]


@check
def each_transaction_has_its_own_recipients():
    with relay() as smtp:
        smtp.send_message(message(to="one@example.com", subject="First"))
        smtp.send_message(message(to="two@example.com", subject="Second"))
    last_two = relayed()[-2:]
    assert [entry["to"] for entry in last_two] == [["one@example.com"], ["two@example.com"]], last_two


@check
def commands_out_of_order_are_refused():
    with relay() as smtp:
        assert smtp.docmd("MAIL FROM:<a@example.com>")[0] == 503, "EHLO comes first"
        smtp.ehlo()
        assert smtp.rcpt("ada@example.com")[0] == 503, "RCPT before MAIL"
        assert smtp.docmd("DATA")[0] == 503, "DATA before MAIL"
        assert smtp.mail(FROM)[0] == 250
        assert smtp.mail(FROM)[0] == 503, "nested MAIL"
        code, _ = smtp.docmd("DATA")
        assert code == 503, "DATA without recipients"
        assert smtp.docmd("RCPT TO:ada@example.com")[0] == 501, "an address without brackets"
        smtp.rset()
        assert smtp.rcpt("ada@example.com")[0] == 503, "RSET ends the transaction"


@check
def a_temporary_failure_is_a_4xx_at_data():
    control("/smtp/mode", {"mode": "temporarily_failing"})
    try:
        with relay() as smtp:
            error = raises(smtplib.SMTPDataError, smtp.send_message, message())
    finally:
        control("/smtp/mode", {"mode": "accepting"})
    assert error.smtp_code == 451, error


@check
def a_rejected_recipient_is_a_5xx_at_rcpt():
    before = len(relayed())
    control("/smtp/mode", {"mode": "rejecting_recipients"})
    try:
        with relay() as smtp:
            error = raises(smtplib.SMTPRecipientsRefused, smtp.send_message, message())
    finally:
        control("/smtp/mode", {"mode": "accepting"})
    assert error.recipients["ada@example.com"][0] == 550, error.recipients
    assert len(relayed()) == before
