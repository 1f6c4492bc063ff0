"""Renders a chat template with jinja2 the way Hugging Face's apply_chat_template does (sandboxed
environment, trim_blocks and lstrip_blocks). Reads {"template", "cases": [{"messages",
"add_generation_prompt", "generation_role"?}]} as JSON on stdin, prints the rendered strings."""
import json
import sys

from jinja2.sandbox import ImmutableSandboxedEnvironment


def main():
    request = json.load(sys.stdin)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(request["template"])
    out = []
    for case in request["cases"]:
        variables = {"messages": case["messages"], "add_generation_prompt": case.get("add_generation_prompt", False)}
        if case.get("generation_role") is not None:
            variables["generation_role"] = case["generation_role"]
        out.append(template.render(**variables))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
