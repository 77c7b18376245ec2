"""Online detection and takedown: capture reported URLs, match their media, notify hosts until removed.

guard.py (address policy, pinned connections) · fetch.py (httpx with limits) · warc.py (WARC records) ·
html_tags.py (a page's tags, linear on hostile markup) · media.py (media found in a page) · hosting.py
(DNS → IP → ASN / organisation / country, abuse contacts) · rdap.py (abuse contacts from RDAP) ·
notices.py (removal notices, SMTP) · settings.py · capture.py · locations.py (lifecycle) · notify.py ·
recheck.py · stats.py
"""
