"""The quarterly campaign cycle: calendar, scheduled posts, relevance survey, rehearsal."""
