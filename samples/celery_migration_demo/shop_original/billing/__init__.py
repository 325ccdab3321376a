"""The billing app: charges and invoices."""
