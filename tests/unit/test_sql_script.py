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


def test_a_function_body_stays_one_statement():
    script = """
        CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $body$
        BEGIN
            INSERT INTO a VALUES (1);
            RETURN NULL;
        END
        $body$;
        CREATE TRIGGER t AFTER INSERT ON a FOR EACH STATEMENT EXECUTE FUNCTION f();
    """
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[0].endswith("$body$")
    assert "RETURN NULL;" in statements[0]
