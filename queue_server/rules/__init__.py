"""The queue's rules as plain Python: no Redis, no awaits.

The Lua scripts implement the same rules; ``tests/test_engine_model.py`` drives random
operation sequences through both and requires identical outcomes.
"""
