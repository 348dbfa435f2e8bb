// html_to_text: the plain text of Ocean's HTML notes.
#include <gtest/gtest.h>

#include <string>

#include "relay/transform/referral.hpp"

using relay::transform::html_to_text;

TEST(HtmlToText, OceansNoteShape) {
    // The note of the real ereferral_back_pain bundle.
    EXPECT_EQ(html_to_text("<b>Reason for Referral:</b> Back pain with no red flags&nbsp;"),
              "Reason for Referral: Back pain with no red flags");
    // The generator's two-part note.
    EXPECT_EQ(html_to_text(
                  "<b>Reason for Referral:</b> Recurrent headaches &amp; dizziness&nbsp;<br><b>History:</b> "
                  "Asthma since childhood&nbsp;"),
              "Reason for Referral: Recurrent headaches & dizziness\nHistory: Asthma since childhood");
}

TEST(HtmlToText, LineBreaks) {
    EXPECT_EQ(html_to_text("a<br>b"), "a\nb");
    EXPECT_EQ(html_to_text("a<br/>b"), "a\nb");
    EXPECT_EQ(html_to_text("a<BR />b"), "a\nb");
    EXPECT_EQ(html_to_text("a<br><br>b"), "a\n\nb");
    EXPECT_EQ(html_to_text("a <br> b"), "a\nb");
    EXPECT_EQ(html_to_text("<br>a<br>"), "a");
}

TEST(HtmlToText, BlocksBreakLinesOnce) {
    EXPECT_EQ(html_to_text("<p>one</p><p>two</p>"), "one\ntwo");
    EXPECT_EQ(html_to_text("<div>a</div>b"), "a\nb");
    EXPECT_EQ(html_to_text("x<div>a</div>"), "x\na");
    EXPECT_EQ(html_to_text("<ul><li>first</li><li>second</li></ul>"), "first\nsecond");
    EXPECT_EQ(html_to_text("<table><tr><td>a</td><td>b</td></tr></table>"), "a b");
}

TEST(HtmlToText, InlineTagsAreDropped) {
    EXPECT_EQ(html_to_text("<b>bold</b> <i>it</i><span class=\"x\">alic</span>"), "bold italic");
    EXPECT_EQ(html_to_text("<a href=\"https://example.com/?a=1&b=2\">link</a>"), "link");
}

TEST(HtmlToText, Entities) {
    EXPECT_EQ(html_to_text("&amp;&lt;&gt;&quot;&#39;&apos;"), "&<>\"''");
    EXPECT_EQ(html_to_text("caf&#233;"), "café");
    EXPECT_EQ(html_to_text("caf&#xE9;"), "café");
    EXPECT_EQ(html_to_text("caf&#XE9;"), "café");
    EXPECT_EQ(html_to_text("&#x1F600;"), "\xF0\x9F\x98\x80");
    EXPECT_EQ(html_to_text("&#x20AC;5"),
              "\xE2\x82\xAC"
              "5");
    EXPECT_EQ(html_to_text("a&#0;b"),
              "a\xEF\xBF\xBD"
              "b");
    EXPECT_EQ(html_to_text("&#xD800;"), "\xEF\xBF\xBD");
    EXPECT_EQ(html_to_text("&#99999999999;"), "\xEF\xBF\xBD");
    EXPECT_EQ(html_to_text("a&#160;b"), "a b");
}

TEST(HtmlToText, UnknownOrBareAmpersandsStay) {
    EXPECT_EQ(html_to_text("AT&T"), "AT&T");
    EXPECT_EQ(html_to_text("a & b"), "a & b");
    EXPECT_EQ(html_to_text("&unknown;"), "&unknown;");
    EXPECT_EQ(html_to_text("&#;"), "&#;");
    EXPECT_EQ(html_to_text("&#x;"), "&#x;");
    EXPECT_EQ(html_to_text("&#12a;"), "&#12a;");
    EXPECT_EQ(html_to_text("trailing &"), "trailing &");
}

TEST(HtmlToText, WhitespaceCollapses) {
    EXPECT_EQ(html_to_text("  a \n\t b  "), "a b");
    EXPECT_EQ(html_to_text("a&nbsp;&nbsp;b"), "a b");
    EXPECT_EQ(html_to_text("&nbsp;a&nbsp;"), "a");
    EXPECT_EQ(html_to_text("a\r\nb"), "a b");
    EXPECT_EQ(html_to_text("<b>a</b>   <b>b</b>"), "a b");
}

TEST(HtmlToText, LiteralAngleBrackets) {
    EXPECT_EQ(html_to_text("x < y and y > z"), "x < y and y > z");
    EXPECT_EQ(html_to_text("result (< 3 months)"), "result (< 3 months)");
    EXPECT_EQ(html_to_text("a <b"), "a <b");
    EXPECT_EQ(html_to_text("1<2"), "1<2");
}

TEST(HtmlToText, CommentsScriptsAndStylesAreDropped) {
    EXPECT_EQ(html_to_text("a<!-- hidden -->b"), "ab");
    EXPECT_EQ(html_to_text("a<!-- never closed"), "a");
    EXPECT_EQ(html_to_text("<script>var x = '<b>';</script>ok"), "ok");
    EXPECT_EQ(html_to_text("<STYLE>p { color: red }</STYLE>ok"), "ok");
}

TEST(HtmlToText, Utf8PassesThroughAndEmptyStaysEmpty) {
    EXPECT_EQ(html_to_text("Café-au-lait, Zoë"), "Café-au-lait, Zoë");
    EXPECT_EQ(html_to_text(""), "");
    EXPECT_EQ(html_to_text("<b></b>&nbsp;<br>"), "");
}
