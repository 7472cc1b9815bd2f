"""The composition root: builds the services from settings and joins Stash reads to Plex writes."""
