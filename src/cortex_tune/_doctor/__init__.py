"""``cx.doctor()``: the account checks and their report."""
