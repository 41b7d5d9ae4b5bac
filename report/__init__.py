"""The write-up: results.json -> report.tex / report.pdf / report.html, and the build's stage cache.

- `report.prose`: splitting prose ("text with $inline$ and $$display$$ math") into segments;
- `report.values`: how numbers, errors and nested answer values print;
- `report.view`: results.json -> the format-neutral view the templates render, and the verdict;
- `report.provenance`: which stages ran in this build and which came from the cache, and their times;
- `report.latex`, `report.mathml`, `report.html`: the two output formats (Jinja environments, filters);
- `report.compile`: latexmk / pdflatex, with the relevant log lines on failure;
- `report.render`: one results.json in, the report files out (``python -m report.render build/results.json``);
- `report.cache`: stage cache keys, used by ``build.py`` (atomic writes: `numeric.files`).
"""
