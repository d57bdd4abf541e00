"""Evidence that holds up outside: RFC 3161 trusted time, the signed report, proved deletion.

Pure functions over values (tokens, keys, records), shared by the device and the hub;
the only I/O is in tsa_client (HTTP to an authority) and token_store (files)."""
