"""Reports never show raw emails or names."""
import pandas as pd

from c360.pii import mask_email, mask_frame


def test_emails_keep_initial_and_domain_only():
    assert mask_email("John.Doe+x@Example.co.uk") == "J***@Example.co.uk"
    assert mask_email("contact C1 <ann@acme.com>, bob@b.org") == "contact C1 <a***@acme.com>, b***@b.org"
    assert mask_email(None) is None


def test_frames_mask_name_columns_and_emails_anywhere():
    df = pd.DataFrame({"first_name": ["Ann"], "last_name": ["Lee"], "note": ["from ann@acme.com"], "n": [1]})
    out = mask_frame(df)
    assert out.iloc[0].tolist() == ["A***", "L***", "from a***@acme.com", 1]
    assert df.iloc[0, 0] == "Ann"  # the input is left alone
