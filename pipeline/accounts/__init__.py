"""The studio's people and programs: editors' accounts (``users``), API tokens
(``apitokens``) and the audit log of everything done through the studio or the API
(``audit``). A stage: it knows nothing of the web; the studio and the API call it.
"""
