#!/bin/sh
# install.sh install|uninstall|list DESTDIR PREFIX RELEASE_BINARY GENERATED_DIR
#
# What `make install` puts where (and `make uninstall` takes away again, and nothing else):
#   PREFIX/bin/husk                                       0755  the static release binary
#   PREFIX/share/man/man8/husk.8, husk-COMMAND.8          0644  from husk-docgen
#   PREFIX/share/bash-completion/completions/husk         0644
#   PREFIX/share/zsh/site-functions/_husk                 0644
#   PREFIX/share/fish/vendor_completions.d/husk.fish      0644
set -eu
action=$1 destdir=$2 prefix=$3 binary=$4 gen=$5

# "SOURCE TARGET MODE" lines.
list() {
    echo "$binary $prefix/bin/husk 0755"
    for page in "$gen"/man/*.8; do
        echo "$page $prefix/share/man/man8/$(basename "$page") 0644"
    done
    echo "$gen/completions/husk.bash $prefix/share/bash-completion/completions/husk 0644"
    echo "$gen/completions/_husk $prefix/share/zsh/site-functions/_husk 0644"
    echo "$gen/completions/husk.fish $prefix/share/fish/vendor_completions.d/husk.fish 0644"
}

case $action in
list) list ;;
install)
    list | while read -r src target mode; do
        install -D -m "$mode" "$src" "$destdir$target"
    done
    ;;
uninstall)
    list | while read -r src target mode; do
        rm -f "$destdir$target"
        # The directories install made for it, once empty (never a non-empty one).
        dir=$(dirname "$destdir$target")
        while [ "$dir" != "$destdir$prefix" ] && [ "$dir" != "/" ] && rmdir "$dir" 2>/dev/null; do
            dir=$(dirname "$dir")
        done
    done
    ;;
*)
    echo "install.sh: install, uninstall or list" >&2
    exit 2
    ;;
esac
