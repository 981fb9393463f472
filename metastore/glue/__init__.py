"""The AWS Glue JSON 1.1 API (SigV4-signed `POST /`, `X-Amz-Target: AWSGlue.<Operation>`) over the catalog.

Operations are plain functions registered by name in `registry`; each gets a `GlueRequest` (the caller's
identity and a catalog view bound to it) and the request body, and returns the answer body. Errors are
`GlueError`s (or catalog errors, mapped in `errors`). The HTTP layer, SigV4 and paging live beside them.
"""
