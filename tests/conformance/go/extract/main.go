// Command extract copies chosen tests out of nats.go's test package, with
// every top-level declaration they need and nothing else, so they compile
// against the stand-in for nats-server's packages without the rest of the
// package (which reaches into JetStream and server internals).
//
//	extract <nats.go test dir> <output dir> TestA TestB ...
//
// The tests are copied as they are written: a declaration is kept whole or
// left out, never changed; imports no kept declaration uses are dropped.
package main

import (
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// decl is one top-level declaration: a function, a method, or one spec of
// a var, const or type block.
type decl struct {
	file  string
	node  ast.Node
	gen   *ast.GenDecl // the block a spec belongs to
	order int
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: extract <test dir> <out dir> TestName...")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2], os.Args[3:]); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(src, out string, roots []string) error {
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(src, "*_test.go"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	files := map[string]*ast.File{}
	byName := map[string][]*decl{}
	order := 0
	add := func(name string, d *decl) {
		order++
		d.order = order
		byName[name] = append(byName[name], d)
	}
	for _, path := range paths {
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		files[path] = f
		for _, node := range f.Decls {
			switch n := node.(type) {
			case *ast.FuncDecl:
				name := n.Name.Name
				if n.Recv != nil && len(n.Recv.List) > 0 {
					name = receiver(n.Recv.List[0].Type)
				}
				add(name, &decl{file: path, node: n})
			case *ast.GenDecl:
				if n.Tok == token.IMPORT {
					continue
				}
				for _, spec := range n.Specs {
					switch sp := spec.(type) {
					case *ast.TypeSpec:
						add(sp.Name.Name, &decl{file: path, node: sp, gen: n})
					case *ast.ValueSpec:
						d := &decl{file: path, node: sp, gen: n}
						for _, id := range sp.Names {
							add(id.Name, d)
						}
					}
				}
			}
		}
	}
	kept := map[*decl]bool{}
	var queue []string
	for _, root := range roots {
		if len(byName[root]) == 0 {
			return fmt.Errorf("no test %s in %s", root, src)
		}
		queue = append(queue, root)
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, d := range byName[name] {
			if kept[d] {
				continue
			}
			kept[d] = true
			ast.Inspect(d.node, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					// `x.Name` names a member of x, not a declaration here.
					ast.Inspect(n.X, func(n ast.Node) bool {
						if id, ok := n.(*ast.Ident); ok && len(byName[id.Name]) > 0 {
							queue = append(queue, id.Name)
						}
						return true
					})
					return false
				case *ast.Ident:
					if len(byName[n.Name]) > 0 {
						queue = append(queue, n.Name)
					}
				}
				return true
			})
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, path := range paths {
		if err := write(fset, files[path], path, kept, filepath.Join(out, filepath.Base(path))); err != nil {
			return err
		}
	}
	return nil
}

// receiver names the type of a method's receiver (`T` of `*T`).
func receiver(expr ast.Expr) string {
	if star, ok := expr.(*ast.StarExpr); ok {
		expr = star.X
	}
	if id, ok := expr.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// write keeps the file's kept declarations, in their order, and the
// imports they use; a file with none is not written.
func write(fset *token.FileSet, f *ast.File, path string, kept map[*decl]bool, out string) error {
	var decls []ast.Decl
	for _, node := range f.Decls {
		switch n := node.(type) {
		case *ast.FuncDecl:
			if keptNode(kept, path, n) {
				decls = append(decls, n)
			}
		case *ast.GenDecl:
			if n.Tok == token.IMPORT {
				continue
			}
			var specs []ast.Spec
			for _, spec := range n.Specs {
				if keptNode(kept, path, spec) {
					specs = append(specs, spec)
				}
			}
			if len(specs) > 0 {
				block := *n
				block.Specs = specs
				decls = append(decls, &block)
			}
		}
	}
	if len(decls) == 0 {
		return nil
	}
	used := map[string]bool{}
	for _, d := range decls {
		ast.Inspect(d, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok {
					used[id.Name] = true
				}
			}
			return true
		})
	}
	var imports []ast.Spec
	for _, imp := range f.Imports {
		if used[importName(imp)] {
			imports = append(imports, imp)
		}
	}
	var all []ast.Decl
	if len(imports) > 0 {
		all = append(all, &ast.GenDecl{Tok: token.IMPORT, Lparen: 1, Specs: imports})
	}
	all = append(all, decls...)
	file := &ast.File{Name: f.Name, Decls: all}
	var b strings.Builder
	b.WriteString("// Code extracted from nats.go's " + filepath.Base(path) + " by tests/conformance/go/extract. DO NOT EDIT.\n\n")
	if err := format.Node(&b, fset, file); err != nil {
		return err
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

func keptNode(kept map[*decl]bool, path string, node ast.Node) bool {
	for d := range kept {
		if d.file == path && d.node == node {
			return true
		}
	}
	return false
}

// importName is the name a file uses for an import: its alias, or the last
// element of its path (nats.go's imports follow that rule, `/v2` aside).
func importName(imp *ast.ImportSpec) string {
	if imp.Name != nil {
		return imp.Name.Name
	}
	path, _ := strconv.Unquote(imp.Path.Value)
	parts := strings.Split(path, "/")
	last := parts[len(parts)-1]
	if len(parts) > 1 && strings.HasPrefix(last, "v") && isDigits(last[1:]) {
		last = parts[len(parts)-2]
	}
	if last == "nats.go" {
		return "nats"
	}
	return last
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
