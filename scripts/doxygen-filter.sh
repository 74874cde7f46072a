#!/bin/sh
# Doxygen's INPUT_FILTER for the public headers: they use plain C comments,
# which Doxygen ignores; a comment opening a line becomes a documentation
# comment (/**) and one trailing a member or enumerator becomes a member
# comment (/**<).  The headers themselves stay plain.
exec sed -e 's|^\([ \t]*\)/\* |\1/** |' -e 's|\([;,{]\)\([ \t]*\)/\* |\1\2/**< |' "$1"
