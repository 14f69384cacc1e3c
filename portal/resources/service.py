def seed_resources() -> dict:
    return {"created": 0, "updated": 0}
