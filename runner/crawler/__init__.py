"""Crawlers: walking data stores, classifying files, inferring schemas and partitions."""
