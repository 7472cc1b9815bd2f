"""Product classes and functions stay small (tools/code_size.py): a class past 250 lines, or past
150 lines with more than 15 methods, or a function past 60 lines has taken on a second job."""
from tools import code_size


def test_no_product_class_or_function_is_over_the_limits():
    found = [problem for path in code_size.product_files() for problem in code_size.problems(path)]
    assert found == []


def test_the_check_sees_a_long_function_and_a_busy_class(tmp_path):
    methods = "".join(f"    def m{n}(self):\n" + "        pass\n" * 9 for n in range(16))
    long_body = "".join(f"    x{n} = {n}\n" for n in range(61))
    probe = tmp_path / "probe.py"
    probe.write_text(f"class Busy:\n{methods}\n\ndef long():\n{long_body}", encoding="utf-8")
    found = code_size.problems(probe, tmp_path)
    assert any("class Busy" in line and "16 methods" in line for line in found)
    assert any("function long has 62 lines" in line for line in found)
