"""Editorial review: an issue is submitted, approved (or rejected) and then scheduled.

    draft ──submit──> in_review ──approve──> approved ──schedule/send──> scheduled
      ^                  │                      │                          │
      └────reject────────┴──────reject──────────┘          unschedule ──> approved
      ^
      └── any change to the issue's files after approval (the approval is void)

review      the states in the database: submit, approve, reject, state_of, check_approved
states      what a state is, states_of (for `issue list`, without SQLAlchemy), refusal
hashing     the hash of an issue folder's files (what an approval is for)

With ``[editorial] require_approval = true`` an issue cannot be scheduled or sent until it
is approved, and ``send-due`` holds a scheduled edition whose approval is no longer valid.
The CLI (``newsletter issue submit|approve|reject``) and the studio call ``review``.
"""
