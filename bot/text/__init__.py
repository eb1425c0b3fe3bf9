"""Text utilities shared by NLU, CRM import, channels and privacy masking."""
