from app.db.sql_script import split_statements


def test_splits_on_semicolons_that_end_lines():
    script = """
        CREATE TABLE a (x int);
        COMMENT ON TABLE a IS
            'multi-line comment';
        CREATE INDEX ix ON a (x)
    """
    assert split_statements(script) == [
        "CREATE TABLE a (x int)",
        "COMMENT ON TABLE a IS\n            'multi-line comment'",
        "CREATE INDEX ix ON a (x)",
    ]


def test_blank_script_has_no_statements():
    assert split_statements("\n   \n") == []
