"""`radledger demo`: the story and the order of its acts (:mod:`.story`), the acts (:mod:`.acts`), the
synthetic world (:mod:`.data`), what the acts share (:mod:`.scene`), how the story is told
(:mod:`.narration`) and what it returns (:mod:`.result`)."""
