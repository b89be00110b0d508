"""The task deadline guard: policies, the on-site veto, deadline requests and the audit."""
