"""The .eml loader against the plugin contract, on messages built with the standard library."""

from email.message import EmailMessage

import pytest
from ministudio_plugin_example.eml import EmlLoader, EmlSettings, html_to_text

from plugins.base import Element, LoaderInput


def load(data: bytes, *, filename: str = "mail.eml", **settings) -> list[Element]:
    source = LoaderInput(filename=filename, media_type="message/rfc822", data=data)
    return EmlLoader().load(source, EmlLoader.Settings(**settings))


def plain_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Quarterly report"
    message["From"] = "Alice Example <alice@example.com>"
    message["To"] = "bob@example.com, Carol <carol@example.com>"
    message["Date"] = "Tue, 04 Mar 2025 09:30:00 +0100"
    message["Message-ID"] = "<report-1@example.com>"
    message.set_content(
        "Hi Bob,\n\nThe report is attached.\nNumbers are up.\n\n\n  Regards,\nAlice\n"
    )
    return message


def multipart_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Launch plan"
    message["From"] = "pm@example.com"
    message["To"] = "team@example.com"
    message.set_content("Plain version.\n\nSecond paragraph.")
    message.add_alternative(
        "<html><body><p>HTML version.</p><p>Second <b>paragraph</b>.</p></body></html>",
        subtype="html",
    )
    message.add_attachment(
        b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="plan.pdf"
    )
    return message


def html_only_message() -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Newsletter"
    message["From"] = "news@example.com"
    message.set_content(
        "<html><head><title>ignored</title><style>p { color: red }</style></head>"
        "<body><h1>Big   news</h1><script>alert('x')</script>"
        "<p>First&nbsp;line<br>second line &amp; more</p>"
        "<ul><li>one</li><li>two</li></ul></body></html>",
        subtype="html",
    )
    return message


# --- the contract --------------------------------------------------------------------------


def test_check_contract_passes():
    EmlLoader.check_contract()


def test_declarations():
    assert EmlLoader.kind == "loader"
    assert EmlLoader.display_name == "E-mail (.eml)"
    assert EmlLoader.file_extensions == (".eml",)
    assert EmlLoader.media_types == ("message/rfc822",)
    assert EmlLoader.Settings is EmlSettings
    assert EmlSettings().include_headers is True


# --- plain messages --------------------------------------------------------------------------


def test_plain_message_elements_in_reading_order():
    elements = load(plain_message().as_bytes())
    assert [(e.type, e.text) for e in elements] == [
        ("title", "Quarterly report"),
        (
            "text",
            "From: Alice Example <alice@example.com>\n"
            "To: bob@example.com, Carol <carol@example.com>\n"
            "Date: Tue, 04 Mar 2025 09:30:00 +0100",
        ),
        ("paragraph", "Hi Bob,"),
        ("paragraph", "The report is attached.\nNumbers are up."),
        ("paragraph", "Regards,\nAlice"),
    ]


def test_every_element_carries_subject_sender_and_date():
    elements = load(plain_message().as_bytes())
    for element in elements:
        assert element.metadata["subject"] == "Quarterly report"
        assert element.metadata["from"] == "Alice Example <alice@example.com>"
        assert element.metadata["date"] == "2025-03-04T09:30:00+01:00"
    assert elements[0].metadata["attachments"] == []
    assert all("attachments" not in element.metadata for element in elements[1:])


def test_include_headers_off_leaves_out_the_header_element():
    elements = load(plain_message().as_bytes(), include_headers=False)
    assert [e.type for e in elements] == ["title", "paragraph", "paragraph", "paragraph"]
    assert not any("From:" in e.text for e in elements)


def test_header_element_lists_only_the_headers_present():
    message = EmailMessage()
    message["From"] = "alice@example.com"
    message.set_content("Body.")
    elements = load(message.as_bytes())
    assert [(e.type, e.text) for e in elements] == [
        ("text", "From: alice@example.com"),
        ("paragraph", "Body."),
    ]


def test_message_without_subject_has_no_title():
    message = plain_message()
    del message["Subject"]
    elements = load(message.as_bytes())
    assert elements[0].type == "text"
    assert elements[0].metadata["subject"] == ""


def test_malformed_headers_are_kept_as_written():
    data = b"Subject: Odd one\nFrom: <<<@@>>\nTo: ,,,@\nDate: sometime last week\n\nBody.\n"
    elements = load(data)
    assert elements[0].metadata == {
        "subject": "Odd one",
        "from": "<<<@@>>",
        "date": "sometime last week",
        "attachments": [],
    }
    assert elements[1].text == "From: <<<@@>>\nTo: ,,,@\nDate: sometime last week"


def test_undeclared_8bit_header_bytes_do_not_break_the_mail():
    data = "Subject: Caf\xe9\nFrom: a@example.com\n\nBody.\n".encode("latin-1")
    elements = load(data)
    assert elements[0].text == "Caf\ufffd"
    assert elements[-1].text == "Body."


def test_encoded_subject_is_decoded():
    message = plain_message()
    message.replace_header("Subject", "Réunion à 10 h — 会议")
    elements = load(message.as_bytes())
    assert b"=?utf-8?" in message.as_bytes()  # really encoded on the wire
    assert elements[0].text == "Réunion à 10 h — 会议"


def test_crlf_line_endings():
    data = plain_message().as_bytes().replace(b"\n", b"\r\n")
    texts = [e.text for e in load(data) if e.type == "paragraph"]
    assert texts == ["Hi Bob,", "The report is attached.\nNumbers are up.", "Regards,\nAlice"]


# --- multipart, HTML, attachments ------------------------------------------------------------


def test_multipart_prefers_the_plain_text_body():
    elements = load(multipart_message().as_bytes())
    assert [e.text for e in elements if e.type == "paragraph"] == [
        "Plain version.",
        "Second paragraph.",
    ]


def test_attachment_names_are_listed_on_the_title_and_not_read():
    elements = load(multipart_message().as_bytes())
    assert elements[0].type == "title"
    assert elements[0].metadata["attachments"] == ["plan.pdf"]
    assert not any("PDF" in e.text for e in elements)


def test_html_body_is_used_when_there_is_no_plain_one():
    message = multipart_message()
    for part in message.iter_parts():
        if part.get_content_type() == "multipart/alternative":
            part.set_payload([p for p in part.iter_parts() if p.get_content_subtype() == "html"])
    elements = load(message.as_bytes())
    assert [e.text for e in elements if e.type == "paragraph"] == [
        "HTML version.",
        "Second paragraph.",
    ]
    assert elements[0].metadata["attachments"] == ["plan.pdf"]


def test_html_only_message_drops_script_style_and_head():
    elements = load(html_only_message().as_bytes())
    paragraphs = [e.text for e in elements if e.type == "paragraph"]
    assert paragraphs == ["Big news", "First line\nsecond line & more", "one", "two"]
    joined = " ".join(e.text for e in elements)
    assert "alert" not in joined
    assert "color" not in joined
    assert "ignored" not in joined


def test_html_to_text_handles_self_closing_and_unclosed_tags():
    assert html_to_text("a<br/>b<hr/>c<p>d") == "a\nb\n\nc\n\nd"


def test_message_with_only_an_attachment_has_no_body_paragraphs():
    message = EmailMessage()
    message["Subject"] = "Scan"
    message["From"] = "scanner@example.com"
    message.add_attachment(b"\x89PNG", maintype="image", subtype="png", filename="scan.png")
    elements = load(message.as_bytes(), include_headers=False)
    assert [(e.type, e.text) for e in elements] == [("title", "Scan")]
    assert elements[0].metadata["attachments"] == ["scan.png"]


def test_empty_body_gives_no_paragraphs():
    message = plain_message()
    message.set_content("\n\n   \n")
    assert [e.type for e in load(message.as_bytes())] == ["title", "text"]


# --- charsets --------------------------------------------------------------------------------


CHINESE = "各位同事：\n\n明天上午十点开会。\n\n谢谢！"


def test_gb2312_body_is_decoded():
    message = plain_message()
    message.set_content(CHINESE.encode("gb2312"), maintype="text", subtype="plain")
    message.set_param("charset", "gb2312")
    data = message.as_bytes()
    assert CHINESE.encode("utf-8") not in data
    paragraphs = [e.text for e in load(data) if e.type == "paragraph"]
    assert paragraphs == ["各位同事：", "明天上午十点开会。", "谢谢！"]


def test_gbk_characters_in_a_mail_declared_gb2312_are_decoded():
    text = "镕基与喆的会议"  # 镕 and 喆 are in GBK, not in GB2312
    message = plain_message()
    message.set_content(text.encode("gbk"), maintype="text", subtype="plain")
    message.set_param("charset", "gb2312")
    paragraphs = [e.text for e in load(message.as_bytes()) if e.type == "paragraph"]
    assert paragraphs == [text]


def test_latin1_quoted_printable_body_is_decoded():
    message = plain_message()
    message.set_content("Grüße aus Köln", charset="iso-8859-1", cte="quoted-printable")
    data = message.as_bytes()
    assert b"Gr=FC=DFe" in data
    assert [e.text for e in load(data) if e.type == "paragraph"] == ["Grüße aus Köln"]


def test_unknown_charset_falls_back_to_utf8():
    message = plain_message()
    message.set_content("naïve café".encode(), maintype="text", subtype="plain")
    message.set_param("charset", "x-no-such-charset")
    assert [e.text for e in load(message.as_bytes()) if e.type == "paragraph"] == ["naïve café"]


def test_bytes_wrong_for_the_declared_charset_are_replaced_not_fatal():
    message = plain_message()
    message.set_content(b"ok \xff\xfe done", maintype="text", subtype="plain")
    message.set_param("charset", "utf-8")
    assert [e.text for e in load(message.as_bytes()) if e.type == "paragraph"] == [
        "ok \ufffd\ufffd done"
    ]


# --- not e-mail ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \r\n\n  "])
def test_empty_input_raises_value_error(data):
    with pytest.raises(ValueError, match=r"notes\.eml is empty"):
        load(data, filename="notes.eml")


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        b"Just some text.\n\nNo headers here at all.\n",
        b"\nFrom: looks like a header but follows a blank line\n",
        b"Note: a text file whose first line has a colon\n\nis not a mail\n",
    ],
)
def test_input_without_email_headers_raises_value_error(data):
    with pytest.raises(ValueError, match=r"not an e-mail message.*no From, To, Subject"):
        load(data, filename="notes.eml")
