"""Mortar's implementation of the `awsglue` ETL API on plain Spark DataFrames.

Written from the API documented in the AWS Glue developer guide ("Program AWS Glue ETL scripts in PySpark");
no code of Amazon's package is used. Importing it is cheap: Spark work happens only when a script calls it.
The modules: awsglue.utils (getResolvedOptions), awsglue.context (GlueContext), awsglue.dynamicframe
(DynamicFrame, DynamicFrameCollection), awsglue.transforms (ApplyMapping...), awsglue.job (Job, bookmarks).
"""
