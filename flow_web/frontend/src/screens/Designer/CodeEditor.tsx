/** CodeMirror 6 for code fields: Python or SQL by the field's media type, plain text otherwise. */
import { python } from "@codemirror/lang-python";
import { sql } from "@codemirror/lang-sql";
import CodeMirror from "@uiw/react-codemirror";
import { useMemo } from "react";

export interface CodeEditorProps {
  value: string;
  onChange: (value: string) => void;
  language?: string;
  readOnly?: boolean;
  id?: string;
  minHeight?: string;
}

function extensionsFor(language: string | undefined) {
  if (!language) return [];
  if (language.includes("python")) return [python()];
  if (language.includes("sql")) return [sql()];
  return [];
}

export function CodeEditor({ value, onChange, language, readOnly, id, minHeight = "140px" }: CodeEditorProps) {
  const extensions = useMemo(() => extensionsFor(language), [language]);
  return (
    <div className="code-editor" data-testid={id ? `code-${id}` : undefined}>
      <CodeMirror
        value={value}
        onChange={onChange}
        extensions={extensions}
        editable={!readOnly}
        readOnly={readOnly}
        minHeight={minHeight}
        maxHeight="420px"
        basicSetup={{ foldGutter: false, highlightActiveLine: !readOnly, autocompletion: true }}
        aria-label={id}
      />
    </div>
  );
}
